/* The program's ProgramData account under the BPF upgradeable loader, read to learn who may
 * initialize the program: its upgrade authority.
 *
 * Layout (UpgradeableLoaderState::ProgramData, bincode): u32 tag = 3, u64 slot of the last
 * deployment, Option<Pubkey> upgrade authority (u8 tag, then 32 bytes when Some), then the
 * program's ELF. Its address is PDA([program id], loader). */
#pragma once
#include "../sol/input.h"

#define PROGRAM_DATA_TAG 3
#define PROGRAM_DATA_AUTHORITY_TAG_OFFSET 12
#define PROGRAM_DATA_AUTHORITY_OFFSET 13
#define PROGRAM_DATA_METADATA_LEN 45

/* BPFLoaderUpgradeab1e11111111111111111111111 */
static const SolPubkey BPF_LOADER_UPGRADEABLE_ID = {{
    0x02, 0xa8, 0xf6, 0x91, 0x4e, 0x88, 0xa1, 0xb0, 0xe2, 0x10, 0x15, 0x3e, 0xf7, 0x63, 0xae, 0x2b,
    0x00, 0xc2, 0xb9, 0x3d, 0x16, 0xc1, 0x24, 0xd2, 0xc0, 0x53, 0x7a, 0x10, 0x04, 0x80, 0x00, 0x00,
}};

/* `program_data` is this program's ProgramData (InvalidProgramData otherwise) and `signer`
 * is its upgrade authority (Unauthorized otherwise, also when the program is immutable). */
u64 expect_upgrade_authority(const SolInput *in, const SolAccountInfo *program_data,
                             const SolAccountInfo *signer);
