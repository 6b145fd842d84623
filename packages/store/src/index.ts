export { type BlobInfo, type BlobStore, FsBlobStore, sha256Hex } from './blobs.ts';
export { cidFromSha256, normalizeBlobId, sha256FromCid } from './cid.ts';
export { isOpenLedgerError, OpenLedgerError } from './errors.ts';
export {
  type AppliedMigration,
  applyMigrations,
  listAppliedMigrations,
  type Migration,
  registeredMigrations,
  registerMigrations,
} from './migrations.ts';
export { type OpenDatabaseOptions, openDatabase, type SqliteDatabase } from './sqlite.ts';
export { type OpenStoreOptions, openStore, type Store, storePaths } from './store.ts';
