import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { cidFromSha256, normalizeBlobId } from './cid.ts';
import { OpenLedgerError } from './errors.ts';

export interface BlobInfo {
  /** SHA-256 of the content, 64 lowercase hex characters: the blob's id. */
  id: string;
  /** The same digest as a CIDv1 (raw, sha2-256, base32). */
  cid: string;
  size: number;
}

/**
 * Content-addressed, immutable blobs. Narrow on purpose so that an object-storage backend
 * (S3-style put/get/head) can implement it. Ids are SHA-256 hex; `get`/`has`/`stat`/`stream` also
 * accept the CID form.
 */
export interface BlobStore {
  put(data: Uint8Array | string): Promise<BlobInfo>;
  get(id: string): Promise<Uint8Array | null>;
  has(id: string): Promise<boolean>;
  stat(id: string): Promise<BlobInfo | null>;
  stream(id: string): Readable | null;
  delete(id: string): Promise<boolean>;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Blobs on the local disk: `<root>/<id[0..2]>/<id[2..4]>/<id>`. A write goes to a temp file in
 * `<root>/tmp`, is fsynced, renamed into place (atomic on POSIX) and the directory fsynced, so a
 * crash leaves either the whole blob or none (a stray temp file at worst, removed on open).
 */
export class FsBlobStore implements BlobStore {
  readonly root: string;
  private readonly tmp: string;

  constructor(root: string) {
    this.root = root;
    this.tmp = join(root, 'tmp');
    mkdirSync(this.tmp, { recursive: true });
    // temp files left by a crashed writer (old enough not to belong to a live one) are removed
    const cutoff = Date.now() - 3_600_000;
    for (const name of readdirSync(this.tmp)) {
      const p = join(this.tmp, name);
      try {
        if (statSync(p).mtimeMs < cutoff) rmSync(p, { force: true });
      } catch {
        // raced with another process
      }
    }
  }

  private resolve(id: string): { hex: string; path: string; dir: string } | null {
    const hex = normalizeBlobId(id);
    if (!hex) return null;
    const dir = join(this.root, hex.slice(0, 2), hex.slice(2, 4));
    return { hex, dir, path: join(dir, hex) };
  }

  putSync(data: Uint8Array | string): BlobInfo {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const hex = sha256Hex(bytes);
    const loc = this.resolve(hex)!;
    const info = { id: hex, cid: cidFromSha256(hex), size: bytes.length };
    try {
      if (statSync(loc.path).size === bytes.length) return info;
    } catch {
      // not there yet
    }
    mkdirSync(loc.dir, { recursive: true });
    const tmpPath = join(this.tmp, `${hex}.${randomBytes(6).toString('hex')}`);
    const fd = openSync(tmpPath, 'w', 0o644);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmpPath, loc.path);
    fsyncDir(loc.dir);
    return info;
  }

  async put(data: Uint8Array | string): Promise<BlobInfo> {
    return this.putSync(data);
  }

  getSync(id: string): Uint8Array | null {
    const loc = this.resolve(id);
    if (!loc) return null;
    try {
      return readFileSync(loc.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async get(id: string): Promise<Uint8Array | null> {
    return this.getSync(id);
  }

  async has(id: string): Promise<boolean> {
    return (await this.stat(id)) !== null;
  }

  async stat(id: string): Promise<BlobInfo | null> {
    const loc = this.resolve(id);
    if (!loc) return null;
    try {
      const st = statSync(loc.path);
      return { id: loc.hex, cid: cidFromSha256(loc.hex), size: st.size };
    } catch {
      return null;
    }
  }

  stream(id: string): Readable | null {
    const loc = this.resolve(id);
    if (!loc) return null;
    try {
      statSync(loc.path);
    } catch {
      return null;
    }
    return createReadStream(loc.path);
  }

  async delete(id: string): Promise<boolean> {
    const loc = this.resolve(id);
    if (!loc) throw new OpenLedgerError('invalid_blob_id', 'id: not a SHA-256 hex digest or CID', 400);
    try {
      rmSync(loc.path);
      fsyncDir(loc.dir);
      return true;
    } catch {
      return false;
    }
  }
}
