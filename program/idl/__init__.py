"""The program's interface (instructions, accounts, events, errors): one source, generating the Anchor IDL and the C header."""
