import type { Migration } from '@openledger/store';

export const DATANET_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'datanets, contributions, rows, versions',
    up: `
      CREATE TABLE datanets (
        id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        summary TEXT NOT NULL,
        description TEXT NOT NULL,
        tags TEXT NOT NULL,
        license TEXT NOT NULL,
        visibility TEXT NOT NULL CHECK (visibility IN ('public', 'permissioned')),
        policy TEXT NOT NULL CHECK (policy IN ('open', 'allowlist', 'owner')),
        schema TEXT NOT NULL CHECK (schema IN ('text', 'prompt_completion', 'text_label')),
        metadata_uri TEXT NOT NULL,
        metadata_hash TEXT NOT NULL,
        approved_seq INTEGER NOT NULL DEFAULT 0,
        row_count INTEGER NOT NULL DEFAULT 0,
        pending_count INTEGER NOT NULL DEFAULT 0,
        approved_count INTEGER NOT NULL DEFAULT 0,
        version_count INTEGER NOT NULL DEFAULT 0,
        latest_root TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX datanets_owner ON datanets(owner);
      CREATE TABLE datanet_members (
        datanet_id INTEGER NOT NULL REFERENCES datanets(id),
        address TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (datanet_id, address)
      ) WITHOUT ROWID;
      CREATE INDEX datanet_members_address ON datanet_members(address);
      CREATE TABLE datanet_reviewers (
        datanet_id INTEGER NOT NULL REFERENCES datanets(id),
        address TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (datanet_id, address)
      ) WITHOUT ROWID;
      CREATE TABLE contributions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        datanet_id INTEGER NOT NULL REFERENCES datanets(id),
        contributor TEXT NOT NULL,
        file_name TEXT NOT NULL,
        format TEXT NOT NULL,
        file_blob TEXT NOT NULL,
        file_size INTEGER NOT NULL,
        rows_accepted INTEGER NOT NULL,
        rows_rejected INTEGER NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE UNIQUE INDEX contributions_file ON contributions(datanet_id, file_blob);
      CREATE TABLE rows (
        id TEXT PRIMARY KEY,
        datanet_id INTEGER NOT NULL REFERENCES datanets(id),
        contribution_id INTEGER NOT NULL REFERENCES contributions(id),
        contributor TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        content TEXT NOT NULL,
        leaf BLOB NOT NULL,
        signature BLOB,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
        reviewer TEXT,
        reason TEXT,
        reviewed_at TEXT,
        approved_seq INTEGER,
        created_at TEXT NOT NULL
      );
      CREATE INDEX rows_datanet_status ON rows(datanet_id, status);
      CREATE UNIQUE INDEX rows_approved ON rows(datanet_id, approved_seq) WHERE approved_seq IS NOT NULL;
      CREATE INDEX rows_contribution ON rows(contribution_id);
      CREATE TABLE versions (
        datanet_id INTEGER NOT NULL REFERENCES datanets(id),
        version INTEGER NOT NULL,
        root TEXT NOT NULL,
        row_count INTEGER NOT NULL,
        max_seq INTEGER NOT NULL,
        content_uri TEXT NOT NULL,
        manifest_blob TEXT NOT NULL,
        leaves_blob TEXT NOT NULL,
        published_by TEXT NOT NULL,
        published_at TEXT NOT NULL,
        recorded INTEGER NOT NULL DEFAULT 0,
        tx_hash TEXT,
        PRIMARY KEY (datanet_id, version)
      );
    `,
  },
];
