// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of kapi: static inline functions and macros of the kernel made callable
 * from Rust (declared in kapi/sys.h, bound by bindgen at build time), so mars.ko needs
 * no patch to the kernel's Rust bindings.
 */

#include "sys.h"

#include <linux/bvec.h>
#include <linux/highmem.h>
#include <linux/mm.h>
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
