"""Scale-out on Ray: the method, the gate and the vault stay in this process (the driver); decoding runs in Ray actors.

``runtime`` connects to (or starts) a Ray instance, ``pool`` is a ``TextModel`` whose calls are served by actors
that each hold a verified ``LocalModel``, and ``tls`` makes and finds the certificates Ray's connections use.
"""
