"""DP adapters: LoRA adapters trained with DP-SGD on a seed set, exported to llama.cpp's GGUF adapter format.

torch_base (the registered GGUF loaded into PyTorch, tokenizer checked against llama.cpp's), dp_lora (LoRA with
``peft`` trained under Opacus' ``PrivacyEngine``), gguf_lora (the adapter written for llama.cpp). The service layer
(``appliance.service.adapters``) stores adapters encrypted in the vault and charges the privacy ledger.
"""
