/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What kapi uses of the kernel's C API beyond what the `kernel` crate's own bindings
 * cover. The module's build runs bindgen over this header against the target kernel's
 * headers (kernel/Kbuild) and kapi/sys.rs includes the result next to
 * `kernel::bindings`, so no kernel patch is needed and no C layout is ever copied by hand.
 *
 * Three kinds of entries:
 * - headers: their exported functions, structs and variables are taken by name
 *   (the allowlists in kernel/Kbuild);
 * - constants the C side defines as casting macros, which bindgen cannot evaluate:
 *   typed `MARS_CONST_<NAME>` constants, renamed to `<NAME>` in the bindings (the same
 *   trick as the kernel's RUST_CONST_HELPER);
 * - prototypes of kapi/sys.c: static inline functions and macros made callable, and
 *   the kernel-version differences of the C API (kapi/sys.c, "Compat"; those of the
 *   Rust API are in kapi/compat.rs).
 */

#include <crypto/hash.h>
#include <linux/bio.h>
#include <linux/blk_types.h>
#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/in.h>
#include <linux/namei.h>
#include <linux/net.h>
#include <linux/statfs.h>
#include <linux/tcp.h>
#include <net/ip.h>
#include <net/net_namespace.h>
#include <net/sock.h>

const blk_mode_t MARS_CONST_BLK_OPEN_READ = BLK_OPEN_READ;
const blk_mode_t MARS_CONST_BLK_OPEN_WRITE = BLK_OPEN_WRITE;
const blk_mode_t MARS_CONST_BLK_OPEN_RESTRICT_WRITES = BLK_OPEN_RESTRICT_WRITES;
const blk_status_t MARS_CONST_BLK_STS_IOERR = BLK_STS_IOERR;
const blk_status_t MARS_CONST_BLK_STS_NOTSUPP = BLK_STS_NOTSUPP;
const blk_opf_t MARS_CONST_REQ_OP_MASK = REQ_OP_MASK;
const blk_opf_t MARS_CONST_REQ_SYNC = REQ_SYNC;
const blk_opf_t MARS_CONST_REQ_FUA = REQ_FUA;
const blk_opf_t MARS_CONST_REQ_PREFLUSH = REQ_PREFLUSH;
const blk_features_t MARS_CONST_BLK_FEAT_WRITE_CACHE = BLK_FEAT_WRITE_CACHE;
const blk_features_t MARS_CONST_BLK_FEAT_FUA = BLK_FEAT_FUA;
const gfp_t MARS_CONST_GFP_NOIO = GFP_NOIO;
const unsigned int MARS_CONST_LOOKUP_NO_SYMLINKS = LOOKUP_NO_SYMLINKS;
const int MARS_CONST_IPPROTO_TCP = IPPROTO_TCP;

/* kapi/sys.c */
void mars_inode_lock(struct inode *inode);
void mars_inode_lock_nested(struct inode *inode, unsigned int subclass);
void mars_inode_unlock(struct inode *inode);
loff_t mars_i_size_read(const struct inode *inode);
struct inode *mars_file_inode(const struct file *f);
void mars_file_dio_align(struct file *f, u32 *offset_align, u32 *mem_align);
void mars_do_delayed_call(struct delayed_call *call);
void mars_bio_set_dev(struct bio *bio, struct block_device *bdev);
void mars_bio_copy_to_buf(struct bio *bio, void *buf);
void mars_bio_copy_from_buf(struct bio *bio, const void *buf);
void mars_crypto_free_shash(struct crypto_shash *tfm);
unsigned int mars_crypto_shash_digestsize(struct crypto_shash *tfm);
const char *mars_crypto_shash_driver_name(struct crypto_shash *tfm);
unsigned int mars_memalloc_noio_save(void);
void mars_memalloc_noio_restore(unsigned int flags);
struct page *mars_addr_to_page(const void *addr);
void mars_sock_set_rcvtimeo(struct socket *sock, long timeo);
void mars_init_completion(struct completion *x);

/* kapi/sys.c, "Compat": one signature on every supported kernel. */
const struct path *mars_file_path(const struct file *f);
int mars_vfs_symlink(const char *name, const char *target);
int mars_vfs_mkdir(const char *name, umode_t mode);
/* What mars_vfs_rename_in must find at the new name to replace it (NULL: anything). */
struct mars_rename_expect {
	bool present;		/* false: nothing there */
	u64 ino;		/* if present: this inode ... */
	s64 mtime_ns;		/* ... with this mtime */
};
int mars_vfs_rename_in(struct dentry *dir, const char *old_name, unsigned int old_len,
		       const char *new_name, unsigned int new_len,
		       const struct mars_rename_expect *expect);
int mars_vfs_unlink_in(struct dentry *dir, const char *name, unsigned int len);
int mars_kthread_run_in_init_fs(int (*fn)(void *), void *data);
