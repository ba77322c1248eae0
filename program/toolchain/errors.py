"""The one error type the linker raises for anything it refuses."""


class LinkError(Exception):
    """An input object or the program it links into cannot become an SBPF v0 program.

    The message is meant for the person who wrote the C: it names the file,
    section or function concerned and, where there is one, the fix.
    """
