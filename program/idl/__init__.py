"""The program's interface (instructions, accounts, events, errors), written once:
it generates the Anchor IDL and the C headers."""
