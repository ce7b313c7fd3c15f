"""De-identified export: record writers (formats), the signed manifest and its verification (manifest), the data
card (datacard), the optional passphrase-encrypted transfer bundle (bundle) and the atomic target directory (target).
``appliance.service.export`` puts them together behind the request → approval → write flow."""
