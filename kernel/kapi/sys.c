// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of kapi: static inline functions and macros of the kernel made callable
 * from Rust (declared in kapi/sys.h, bound by bindgen at build time), so mars.ko needs
 * no patch to the kernel's Rust bindings; and the C API's differences between the
 * supported kernels ("Compat" below).
 */

#include "sys.h"

#include <linux/bvec.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/namei.h>
#ifdef MARS_API_7
#include <linux/fs_struct.h>
#endif
#include <linux/sched/mm.h>
#include <linux/vmalloc.h>

void mars_inode_lock(struct inode *inode)
{
	inode_lock(inode);
}

void mars_inode_lock_nested(struct inode *inode, unsigned int subclass)
{
	inode_lock_nested(inode, subclass);
}

void mars_inode_unlock(struct inode *inode)
{
	inode_unlock(inode);
}

loff_t mars_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

struct inode *mars_file_inode(const struct file *f)
{
	return file_inode(f);
}

/*
 * The alignment direct I/O on @f needs of file positions and lengths, and of memory
 * addresses (statx's STATX_DIOALIGN; 0: no direct I/O, or the filesystem does not say).
 */
void mars_file_dio_align(struct file *f, u32 *offset_align, u32 *mem_align)
{
	struct kstat stat = {};

	*offset_align = 0;
	*mem_align = 0;
	if (vfs_getattr(&f->f_path, &stat, STATX_DIOALIGN, AT_STATX_SYNC_AS_STAT))
		return;
	if (!(stat.result_mask & STATX_DIOALIGN))
		return;
	*offset_align = stat.dio_offset_align;
	*mem_align = stat.dio_mem_align;
}

void mars_do_delayed_call(struct delayed_call *call)
{
	do_delayed_call(call);
}

void mars_bio_set_dev(struct bio *bio, struct block_device *bdev)
{
	bio_set_dev(bio, bdev);
}

/* Copy the data of a bio (its current iterator range) to a flat buffer. */
void mars_bio_copy_to_buf(struct bio *bio, void *buf)
{
	struct bio_vec bv;
	struct bvec_iter iter;
	char *to = buf;

	bio_for_each_segment(bv, bio, iter) {
		memcpy_from_bvec(to, &bv);
		to += bv.bv_len;
	}
}

/* Copy a flat buffer into the data pages of a bio (its current iterator range). */
void mars_bio_copy_from_buf(struct bio *bio, const void *buf)
{
	struct bio_vec bv;
	struct bvec_iter iter;
	const char *from = buf;

	bio_for_each_segment(bv, bio, iter) {
		memcpy_to_bvec(&bv, from);
		from += bv.bv_len;
	}
}

void mars_crypto_free_shash(struct crypto_shash *tfm)
{
	crypto_free_shash(tfm);
}

unsigned int mars_crypto_shash_digestsize(struct crypto_shash *tfm)
{
	return crypto_shash_digestsize(tfm);
}

const char *mars_crypto_shash_driver_name(struct crypto_shash *tfm)
{
	return crypto_shash_driver_name(tfm);
}

/* Allocations in the I/O path must not recurse into I/O (on our own device). */
unsigned int mars_memalloc_noio_save(void)
{
	return memalloc_noio_save();
}

void mars_memalloc_noio_restore(unsigned int flags)
{
	memalloc_noio_restore(flags);
}

/* The page behind a kernel address from kmalloc or vmalloc (bio pages of our buffers). */
struct page *mars_addr_to_page(const void *addr)
{
	return is_vmalloc_addr(addr) ? vmalloc_to_page(addr) : virt_to_page(addr);
}

/* Receive timeout of a kernel socket (no exported setter exists, as for sk_sndtimeo). */
void mars_sock_set_rcvtimeo(struct socket *sock, long timeo)
{
	WRITE_ONCE(sock->sk->sk_rcvtimeo, timeo);
}

void mars_init_completion(struct completion *x)
{
	init_completion(x);
}

/*
 * Compat: operations whose C API differs between the supported kernels, each with one
 * signature for all of them. MARS_API_7 (set by kernel/Kbuild, like the Rust cfg
 * mars_api_7 of kapi/compat.rs) selects the 7.x API (tested: 7.3), else 6.12's.
 *
 * 6.12 -> 7.x: kern_path_create/done_path_create became start_creating_path/
 * end_creating_path; vfs_mkdir returns the new dentry; vfs_symlink and vfs_unlink
 * take a delegated inode (NULL as before); lock_rename + lookup_one_len + renamedata's
 * old_dir/new_dir became start_renaming/end_renaming with old_parent/new_parent;
 * lookup_one_len under the parent's lock became start_removing/end_removing; struct
 * file's f_path moved into an anonymous union; kernel threads resolve paths in an
 * empty root (nullfs) unless they ask for userspace's (scoped_with_init_fs).
 *
 * /mars is never an idmapped mount: every operation uses nop_mnt_idmap. No delegation
 * (a lease of a network filesystem's server) exists on a local /mars.
 */

const struct path *mars_file_path(const struct file *f)
{
	return &f->f_path;
}

/* Create the symlink @name -> @target; @name must not exist. */
int mars_vfs_symlink(const char *name, const char *target)
{
	struct path parent;
	struct dentry *dentry;
	int err;

#ifdef MARS_API_7
	dentry = start_creating_path(AT_FDCWD, name, &parent, 0);
	if (IS_ERR(dentry))
		return PTR_ERR(dentry);
	err = vfs_symlink(&nop_mnt_idmap, d_inode(parent.dentry), dentry, target, NULL);
	end_creating_path(&parent, dentry);
#else
	dentry = kern_path_create(AT_FDCWD, name, &parent, 0);
	if (IS_ERR(dentry))
		return PTR_ERR(dentry);
	err = vfs_symlink(&nop_mnt_idmap, d_inode(parent.dentry), dentry, target);
	done_path_create(&parent, dentry);
#endif
	return err;
}

/* Create the directory @name: 0, or -EEXIST if something exists there. */
int mars_vfs_mkdir(const char *name, umode_t mode)
{
	struct path parent;
	struct dentry *dentry;
	int err;

#ifdef MARS_API_7
	dentry = start_creating_path(AT_FDCWD, name, &parent, LOOKUP_DIRECTORY);
	if (IS_ERR(dentry))
		return PTR_ERR(dentry);
	/* On failure vfs_mkdir has ended the creation itself and returns the error,
	 * which end_creating_path then takes (it only drops the path). */
	dentry = vfs_mkdir(&nop_mnt_idmap, d_inode(parent.dentry), dentry, mode, NULL);
	err = PTR_ERR_OR_ZERO(dentry);
	end_creating_path(&parent, dentry);
#else
	dentry = kern_path_create(AT_FDCWD, name, &parent, LOOKUP_DIRECTORY);
	if (IS_ERR(dentry))
		return PTR_ERR(dentry);
	err = vfs_mkdir(&nop_mnt_idmap, d_inode(parent.dentry), dentry, mode);
	done_path_create(&parent, dentry);
#endif
	return err;
}

/* Whether @new (looked up under the directory's lock, maybe negative) is @expect. */
static bool mars_rename_expected(struct dentry *new, const struct mars_rename_expect *expect)
{
	struct inode *inode = d_inode(new);
	struct timespec64 mtime;

	if (!expect)
		return true;
	if (!inode || !expect->present)
		return !inode && !expect->present;
	mtime = inode_get_mtime(inode);
	return inode->i_ino == expect->ino && timespec64_to_ns(&mtime) == expect->mtime_ns;
}

/*
 * Rename the entry @old_name of directory @dir to @new_name in the same directory,
 * replacing what is there (as rename(2)); -ENOENT if @old_name does not exist. With
 * @expect, only if @new_name is still what the caller decided on (-EAGAIN if not): the
 * check and the rename happen under the directory's lock, which every rename and
 * create in it takes too. The names are single path components (checked by the
 * caller); @dir is a referenced directory dentry.
 */
int mars_vfs_rename_in(struct dentry *dir, const char *old_name, unsigned int old_len,
		       const char *new_name, unsigned int new_len,
		       const struct mars_rename_expect *expect)
{
#ifdef MARS_API_7
	struct renamedata rd = {
		.mnt_idmap = &nop_mnt_idmap,
		.old_parent = dir,
		.new_parent = dir,
	};
	struct qstr old = QSTR_LEN(old_name, old_len);
	struct qstr new = QSTR_LEN(new_name, new_len);
	int err;

	err = start_renaming(&rd, 0, &old, &new);
	if (err)
		return err;
	if (mars_rename_expected(rd.new_dentry, expect))
		err = vfs_rename(&rd);
	else
		err = -EAGAIN;
	end_renaming(&rd);
	return err;
#else
	struct dentry *old, *new;
	int err;

	/* The same directory twice: locked once, no trap dentry. */
	lock_rename(dir, dir);
	old = lookup_one_len(old_name, dir, old_len);
	err = PTR_ERR(old);
	if (IS_ERR(old))
		goto out_unlock;
	new = lookup_one_len(new_name, dir, new_len);
	err = PTR_ERR(new);
	if (IS_ERR(new))
		goto out_old;
	if (d_is_negative(old)) {
		err = -ENOENT;
	} else if (!mars_rename_expected(new, expect)) {
		err = -EAGAIN;
	} else {
		struct renamedata rd = {
			.old_mnt_idmap = &nop_mnt_idmap,
			.old_dir = d_inode(dir),
			.old_dentry = old,
			.new_mnt_idmap = &nop_mnt_idmap,
			.new_dir = d_inode(dir),
			.new_dentry = new,
		};
		err = vfs_rename(&rd);
	}
	dput(new);
out_old:
	dput(old);
out_unlock:
	unlock_rename(dir, dir);
	return err;
#endif
}

/*
 * Remove the entry @name (not a directory) of directory @dir: 1 if removed, 0 if it
 * did not exist, or an error. @name is a single path component (checked by the
 * caller); @dir is a referenced directory dentry.
 */
int mars_vfs_unlink_in(struct dentry *dir, const char *name, unsigned int len)
{
	struct dentry *child;
	int err;

#ifdef MARS_API_7
	struct qstr q = QSTR_LEN(name, len);

	child = start_removing(&nop_mnt_idmap, dir, &q);
	if (IS_ERR(child))
		return PTR_ERR(child) == -ENOENT ? 0 : PTR_ERR(child);
	err = vfs_unlink(&nop_mnt_idmap, d_inode(dir), child, NULL);
	end_removing(child);
	return err ? err : 1;
#else
	inode_lock_nested(d_inode(dir), I_MUTEX_PARENT);
	child = lookup_one_len(name, dir, len);
	err = PTR_ERR(child);
	if (!IS_ERR(child)) {
		err = d_is_negative(child) ? 0 :
			vfs_unlink(&nop_mnt_idmap, d_inode(dir), child, NULL) ?: 1;
		dput(child);
	}
	inode_unlock(d_inode(dir));
	return err;
#endif
}

/*
 * Run @fn(@data) with the root and working directory of userspace (PID 1's), for a
 * kernel thread's whole life: every mars thread resolves paths below /mars. Before 7.x
 * kernel threads have that root already; from 7.x they start in nullfs, where every
 * lookup fails.
 */
int mars_kthread_run_in_init_fs(int (*fn)(void *), void *data)
{
#ifdef MARS_API_7
	scoped_with_init_fs() {
		return fn(data);
	}
#endif
	return fn(data);
}
