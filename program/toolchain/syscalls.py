"""Names of the Solana syscalls a program may call.

The loader resolves a call to one of these by the murmur3 hash of its name, so an
undefined function the linker finds here becomes a dynamic relocation; any other
undefined name is a link error. The list is what the BPF Upgradeable Loader
accepts at deploy time with every current feature active (checked by deploying
a program that calls each one through `program.toolchain.deploy`).
"""

SYSCALLS: frozenset[str] = frozenset({
    "abort",
    "sol_panic_",
    "sol_log_",
    "sol_log_64_",
    "sol_log_pubkey",
    "sol_log_compute_units_",
    "sol_log_data",
    "sol_memcpy_",
    "sol_memmove_",
    "sol_memset_",
    "sol_memcmp_",
    "sol_sha256",
    "sol_keccak256",
    "sol_blake3",
    "sol_poseidon",
    "sol_secp256k1_recover",
    "sol_big_mod_exp",
    "sol_curve_validate_point",
    "sol_curve_group_op",
    "sol_curve_multiscalar_mul",
    "sol_alt_bn128_group_op",
    "sol_alt_bn128_compression",
    "sol_create_program_address",
    "sol_try_find_program_address",
    "sol_invoke_signed_c",
    "sol_invoke_signed_rust",
    "sol_set_return_data",
    "sol_get_return_data",
    "sol_get_clock_sysvar",
    "sol_get_rent_sysvar",
    "sol_get_epoch_schedule_sysvar",
    "sol_get_epoch_rewards_sysvar",
    "sol_get_last_restart_slot",
    "sol_get_sysvar",
    "sol_get_epoch_stake",
    "sol_get_processed_sibling_instruction",
    "sol_get_stack_height",
    "sol_remaining_compute_units",
})

# Syscalls that exist but that feature gates active on mainnet refuse in newly
# deployed programs ("Unresolved symbol" at deploy time): refused at link time instead.
RETIRED_SYSCALLS: dict[str, str] = {
    "sol_alloc_free_": "disable_deploy_of_alloc_free_syscall; there is no heap allocator",
    "sol_get_fees_sysvar": "disable_fees_sysvar; the Fees sysvar is gone",
}
