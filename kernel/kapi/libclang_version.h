/* SPDX-License-Identifier: GPL-2.0 */
/* bindgen over this file prints its libclang version (kernel/Kbuild). */
#pragma message("clang version " __clang_version__)
