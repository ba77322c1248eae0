"""The project's own C -> SBPF v0 toolchain: a linker for clang `-target bpf` objects."""
