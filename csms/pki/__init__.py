"""The certificate authority that signs chargers' certificates (OCPP 2.0.1 A02/A03, 1.6 security
whitepaper), with no I/O beyond reading and writing its PEM files."""
