/**
 * The economy's persistent ledger: metered requests, receipts, each stream's latest voucher, voucher
 * redemptions, penalty flags and settled epochs, in the node's SQLite database (@openledger/store,
 * namespace `economy`). Amounts are stored as decimal TEXT (exact bigint wei). Every write is one
 * SQLite transaction, so an acknowledged request survives a crash.
 */
import { openStore, type Store } from '@openledger/store';
import type { Address, Hex } from 'viem';
import { getAddress } from 'viem';
import type { Receipt, ReceiptWeight } from './epoch.ts';
import { EconomyError, invalid } from './errors.ts';
import type { NetSplit, RequestFee } from './fees.ts';
import { checkFlag, type PenaltyFlag, type PenaltyScore, penaltyScores } from './penalties.ts';
import type { SignedVoucher, VoucherPersistence } from './vouchers.ts';

export const ECONOMY_MIGRATIONS = [
  {
    version: 1,
    name: 'economy ledger',
    up: `
CREATE TABLE economy_requests (
  id TEXT PRIMARY KEY,
  consumer TEXT NOT NULL,
  operator TEXT NOT NULL,
  model_id TEXT NOT NULL,
  tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL,
  usage TEXT NOT NULL,
  platform TEXT NOT NULL,
  total TEXT NOT NULL,
  owner TEXT NOT NULL,
  stakers TEXT NOT NULL,
  contributors TEXT NOT NULL,
  cumulative TEXT NOT NULL,
  cumulative_key TEXT NOT NULL,
  receipt_id TEXT,
  epoch INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX economy_requests_epoch ON economy_requests (epoch);
CREATE INDEX economy_requests_stream ON economy_requests (consumer, operator, model_id, cumulative_key);
CREATE TABLE economy_receipts (
  id TEXT PRIMARY KEY,
  weights TEXT NOT NULL
);
CREATE TABLE economy_vouchers (
  consumer TEXT NOT NULL,
  operator TEXT NOT NULL,
  model_id TEXT NOT NULL,
  cumulative_amount TEXT NOT NULL,
  cumulative_platform_fee TEXT NOT NULL,
  deadline TEXT NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (consumer, operator, model_id)
);
CREATE TABLE economy_redemptions (
  epoch INTEGER NOT NULL,
  consumer TEXT NOT NULL,
  operator TEXT NOT NULL,
  model_id TEXT NOT NULL,
  from_amount TEXT NOT NULL,
  to_amount TEXT NOT NULL,
  from_platform TEXT NOT NULL,
  to_platform TEXT NOT NULL,
  owner TEXT NOT NULL,
  stakers TEXT NOT NULL,
  contributors TEXT NOT NULL,
  tx_hash TEXT,
  PRIMARY KEY (consumer, operator, model_id, to_amount)
);
CREATE INDEX economy_redemptions_epoch ON economy_redemptions (epoch);
CREATE TABLE economy_flags (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  contributor TEXT NOT NULL,
  kind TEXT NOT NULL,
  points INTEGER NOT NULL,
  reason TEXT NOT NULL,
  evidence TEXT,
  epoch INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX economy_flags_contributor ON economy_flags (contributor);
CREATE TABLE economy_epochs (
  epoch INTEGER PRIMARY KEY,
  root TEXT NOT NULL,
  total TEXT NOT NULL,
  funded TEXT NOT NULL,
  withheld TEXT NOT NULL,
  unassigned TEXT NOT NULL,
  manifest TEXT NOT NULL,
  uri TEXT NOT NULL,
  tx_hash TEXT,
  settled_at TEXT NOT NULL
);
CREATE TABLE economy_rewards (
  epoch INTEGER NOT NULL,
  account TEXT NOT NULL,
  amount TEXT NOT NULL,
  PRIMARY KEY (epoch, account)
);
CREATE INDEX economy_rewards_account ON economy_rewards (account);
`,
  },
];

export interface MeteredRequest {
  id: string;
  consumer: Address;
  operator: Address;
  modelId: bigint;
  tokensIn: number;
  tokensOut: number;
  usage: bigint;
  platform: bigint;
  total: bigint;
  /** nominal split of this request's usage (the epoch's redemption split is authoritative) */
  owner: bigint;
  stakers: bigint;
  contributors: bigint;
  /** the stream's cumulative amount (voucher total) after this request */
  cumulative: bigint;
  receiptId: string | null;
  epoch: number;
  createdAt: string;
}

export interface RecordRequestInput {
  id: string;
  consumer: Address;
  operator: Address;
  modelId: bigint;
  tokensIn: number;
  tokensOut: number;
  fee: RequestFee;
  split: NetSplit;
  epoch: number;
  /** the paying voucher's cumulativeAmount; default: the stream's previous cumulative + fee.total */
  cumulative?: bigint;
  receipt?: Receipt;
}

export interface RedemptionRecord {
  epoch: number;
  consumer: Address;
  operator: Address;
  modelId: bigint;
  fromAmount: bigint;
  toAmount: bigint;
  fromPlatform: bigint;
  toPlatform: bigint;
  owner: bigint;
  stakers: bigint;
  contributors: bigint;
  txHash: Hex | null;
}

export interface EpochRecord {
  epoch: number;
  root: Hex;
  total: bigint;
  funded: bigint;
  withheld: bigint;
  unassigned: bigint;
  /** blob id of the epoch manifest */
  manifest: string;
  uri: string;
  txHash: Hex | null;
  settledAt: string;
}

type Row = Record<string, string | number | null>;

interface Stmt {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

const MAX_ID = 200;

function checkId(field: string, id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID) {
    throw invalid(field, `must be a non-empty string of at most ${MAX_ID} characters`);
  }
  return id;
}

function checkReceipt(r: Receipt): Receipt {
  checkId('receipt.id', r.id);
  if (!Array.isArray(r.weights)) throw invalid('receipt.weights', 'must be an array');
  if (r.weights.length > 100_000) throw invalid('receipt.weights', 'at most 100000 entries');
  const weights: ReceiptWeight[] = r.weights.map((w, i) => {
    if (typeof w.contributor !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(w.contributor)) {
      throw invalid(`receipt.weights[${i}].contributor`, `not an address: ${w.contributor}`);
    }
    if (typeof w.weight !== 'number' || !Number.isFinite(w.weight)) {
      throw invalid(`receipt.weights[${i}].weight`, 'must be a finite number');
    }
    return { contributor: w.contributor.toLowerCase(), weight: w.weight };
  });
  return { id: r.id, weights };
}

function toRequest(r: Row): MeteredRequest {
  return {
    id: r.id as string,
    consumer: r.consumer as Address,
    operator: r.operator as Address,
    modelId: BigInt(r.model_id as string),
    tokensIn: r.tokens_in as number,
    tokensOut: r.tokens_out as number,
    usage: BigInt(r.usage as string),
    platform: BigInt(r.platform as string),
    total: BigInt(r.total as string),
    owner: BigInt(r.owner as string),
    stakers: BigInt(r.stakers as string),
    contributors: BigInt(r.contributors as string),
    cumulative: BigInt(r.cumulative as string),
    receiptId: (r.receipt_id as string | null) ?? null,
    epoch: r.epoch as number,
    createdAt: r.created_at as string,
  };
}

function toRedemption(r: Row): RedemptionRecord {
  return {
    epoch: r.epoch as number,
    consumer: getAddress(r.consumer as string),
    operator: getAddress(r.operator as string),
    modelId: BigInt(r.model_id as string),
    fromAmount: BigInt(r.from_amount as string),
    toAmount: BigInt(r.to_amount as string),
    fromPlatform: BigInt(r.from_platform as string),
    toPlatform: BigInt(r.to_platform as string),
    owner: BigInt(r.owner as string),
    stakers: BigInt(r.stakers as string),
    contributors: BigInt(r.contributors as string),
    txHash: (r.tx_hash as Hex | null) ?? null,
  };
}

export class Ledger implements VoucherPersistence {
  readonly store: Store;
  private readonly ownsStore: boolean;

  /** Open on a Store (shared with the node) or on a data directory (opens its own Store). */
  constructor(storeOrHome: Store | string) {
    if (typeof storeOrHome === 'string') {
      this.store = openStore(storeOrHome);
      this.ownsStore = true;
    } else {
      this.store = storeOrHome;
      this.ownsStore = false;
    }
    this.store.migrate('economy', ECONOMY_MIGRATIONS);
  }

  close(): void {
    if (this.ownsStore) this.store.close();
  }

  private get sql() {
    return this.store.sql;
  }

  private readonly stmts = new Map<string, Stmt>();

  /** a cached prepared statement */
  private stmt(text: string): Stmt {
    let s = this.stmts.get(text);
    if (!s) {
      s = this.sql.prepare(text) as unknown as Stmt;
      this.stmts.set(text, s);
    }
    return s;
  }

  // ---- requests and receipts -------------------------------------------------------------

  /** Meter one request (atomic). */
  recordRequest(input: RecordRequestInput): MeteredRequest {
    return this.recordRequests([input])[0];
  }

  /** Meter many requests in one transaction (all or none). */
  recordRequests(inputs: readonly RecordRequestInput[]): MeteredRequest[] {
    const checked = inputs.map((input, i) => {
      const at = inputs.length === 1 ? '' : `requests[${i}].`;
      checkId(`${at}id`, input.id);
      for (const k of ['tokensIn', 'tokensOut'] as const) {
        if (!Number.isSafeInteger(input[k]) || input[k] < 0)
          throw invalid(`${at}${k}`, 'must be a non-negative integer');
      }
      if (!Number.isSafeInteger(input.epoch) || input.epoch < 0) {
        throw invalid(`${at}epoch`, 'must be a non-negative integer');
      }
      if (input.fee.usage + input.fee.platform !== input.fee.total) {
        throw invalid(`${at}fee`, 'usage + platform must equal total');
      }
      if (input.split.owner + input.split.stakers + input.split.contributors !== input.fee.usage) {
        throw invalid(`${at}split`, `parts must sum to the usage fee ${input.fee.usage}`);
      }
      return {
        input,
        consumer: getAddress(input.consumer).toLowerCase(),
        operator: getAddress(input.operator).toLowerCase(),
        receipt: input.receipt ? checkReceipt(input.receipt) : undefined,
      };
    });
    const exists = this.stmt('SELECT 1 FROM economy_requests WHERE id = ?');
    const head = this.stmt(
      'SELECT cumulative FROM economy_requests WHERE consumer = ? AND operator = ? AND model_id = ? ORDER BY cumulative_key DESC LIMIT 1',
    );
    const insert = this.stmt(
      `INSERT INTO economy_requests (id, consumer, operator, model_id, tokens_in, tokens_out, usage, platform, total,
         owner, stakers, contributors, cumulative, cumulative_key, receipt_id, epoch, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.store.transaction(() => {
      const out: MeteredRequest[] = [];
      const createdAt = new Date().toISOString();
      for (const { input, consumer, operator, receipt } of checked) {
        if (exists.get(input.id)) {
          throw new EconomyError('DUPLICATE_REQUEST', `id: request ${input.id} is already metered`, 409);
        }
        const prev = head.get(consumer, operator, input.modelId.toString()) as
          | { cumulative: string }
          | undefined;
        const prevCum = prev ? BigInt(prev.cumulative) : 0n;
        const cumulative = input.cumulative ?? prevCum + input.fee.total;
        if (cumulative <= prevCum) {
          throw invalid(
            'cumulative',
            `must exceed the stream's previous cumulative ${prevCum}, got ${cumulative}`,
          );
        }
        if (receipt) this.putReceipt(receipt);
        insert.run(
          input.id,
          consumer,
          operator,
          input.modelId.toString(),
          input.tokensIn,
          input.tokensOut,
          input.fee.usage.toString(),
          input.fee.platform.toString(),
          input.fee.total.toString(),
          input.split.owner.toString(),
          input.split.stakers.toString(),
          input.split.contributors.toString(),
          cumulative.toString(),
          cumulative.toString().padStart(78, '0'),
          receipt?.id ?? null,
          input.epoch,
          createdAt,
        );
        out.push({
          id: input.id,
          consumer: consumer as Address,
          operator: operator as Address,
          modelId: input.modelId,
          tokensIn: input.tokensIn,
          tokensOut: input.tokensOut,
          usage: input.fee.usage,
          platform: input.fee.platform,
          total: input.fee.total,
          owner: input.split.owner,
          stakers: input.split.stakers,
          contributors: input.split.contributors,
          cumulative,
          receiptId: receipt?.id ?? null,
          epoch: input.epoch,
          createdAt,
        });
      }
      return out;
    });
  }

  private putReceipt(r: Receipt): void {
    this.stmt('INSERT OR REPLACE INTO economy_receipts (id, weights) VALUES (?, ?)').run(
      r.id,
      JSON.stringify(r.weights.map((w) => [w.contributor, w.weight])),
    );
  }

  /** Attach (or replace) the attribution receipt of a metered request. */
  attachReceipt(requestId: string, receipt: Receipt): void {
    const r = checkReceipt(receipt);
    this.store.transaction(() => {
      const row = this.sql.prepare('SELECT id FROM economy_requests WHERE id = ?').get(requestId);
      if (!row) throw new EconomyError('NOT_FOUND', `requestId: no metered request ${requestId}`, 404);
      this.putReceipt(r);
      this.sql.prepare('UPDATE economy_requests SET receipt_id = ? WHERE id = ?').run(r.id, requestId);
    });
  }

  request(id: string): MeteredRequest | undefined {
    const r = this.stmt('SELECT * FROM economy_requests WHERE id = ?').get(id) as Row | undefined;
    return r ? toRequest(r) : undefined;
  }

  requestsForEpoch(epoch: number): MeteredRequest[] {
    return (
      this.sql
        .prepare('SELECT * FROM economy_requests WHERE epoch = ? ORDER BY created_at, id')
        .all(epoch) as Row[]
    ).map(toRequest);
  }

  receipt(id: string): Receipt | undefined {
    const r = this.stmt('SELECT weights FROM economy_receipts WHERE id = ?').get(id) as
      | { weights: string }
      | undefined;
    if (!r) return undefined;
    const w = JSON.parse(r.weights) as [string, number][];
    return { id, weights: w.map(([contributor, weight]) => ({ contributor, weight })) };
  }

  /** The receipts referenced by an epoch's requests, by id (one query). */
  receiptsForEpoch(epoch: number): Map<string, Receipt> {
    const rows = this.stmt(
      'SELECT id, weights FROM economy_receipts WHERE id IN (SELECT receipt_id FROM economy_requests WHERE epoch = ?)',
    ).all(epoch) as { id: string; weights: string }[];
    const out = new Map<string, Receipt>();
    for (const r of rows) {
      const w = JSON.parse(r.weights) as [string, number][];
      out.set(r.id, { id: r.id, weights: w.map(([contributor, weight]) => ({ contributor, weight })) });
    }
    return out;
  }

  /** Move requests to another epoch (those a settlement could not cover roll over). */
  moveRequests(ids: readonly string[], epoch: number): void {
    const stmt = this.stmt('UPDATE economy_requests SET epoch = ? WHERE id = ?');
    this.store.transaction(() => {
      for (const id of ids) stmt.run(epoch, id);
    });
  }

  // ---- vouchers (VoucherPersistence) ------------------------------------------------------

  saveVoucher(sv: SignedVoucher): void {
    const v = sv.voucher;
    this.sql
      .prepare(
        `INSERT INTO economy_vouchers (consumer, operator, model_id, cumulative_amount, cumulative_platform_fee, deadline, signature)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (consumer, operator, model_id) DO UPDATE SET cumulative_amount = excluded.cumulative_amount,
           cumulative_platform_fee = excluded.cumulative_platform_fee, deadline = excluded.deadline, signature = excluded.signature`,
      )
      .run(
        v.consumer.toLowerCase(),
        v.operator.toLowerCase(),
        v.modelId.toString(),
        v.cumulativeAmount.toString(),
        v.cumulativePlatformFee.toString(),
        v.deadline.toString(),
        sv.signature,
      );
  }

  loadVouchers(): SignedVoucher[] {
    return (
      this.sql.prepare('SELECT * FROM economy_vouchers ORDER BY consumer, operator, model_id').all() as Row[]
    ).map((r) => ({
      voucher: {
        consumer: getAddress(r.consumer as string),
        operator: getAddress(r.operator as string),
        modelId: BigInt(r.model_id as string),
        cumulativeAmount: BigInt(r.cumulative_amount as string),
        cumulativePlatformFee: BigInt(r.cumulative_platform_fee as string),
        deadline: BigInt(r.deadline as string),
      },
      signature: r.signature as Hex,
    }));
  }

  // ---- redemptions -----------------------------------------------------------------------

  recordRedemption(r: RedemptionRecord): void {
    this.sql
      .prepare(
        `INSERT OR REPLACE INTO economy_redemptions (epoch, consumer, operator, model_id, from_amount, to_amount, from_platform, to_platform,
           owner, stakers, contributors, tx_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.epoch,
        r.consumer.toLowerCase(),
        r.operator.toLowerCase(),
        r.modelId.toString(),
        r.fromAmount.toString(),
        r.toAmount.toString(),
        r.fromPlatform.toString(),
        r.toPlatform.toString(),
        r.owner.toString(),
        r.stakers.toString(),
        r.contributors.toString(),
        r.txHash,
      );
  }

  setRedemptionTx(r: RedemptionRecord, txHash: Hex): void {
    this.sql
      .prepare(
        'UPDATE economy_redemptions SET tx_hash = ? WHERE consumer = ? AND operator = ? AND model_id = ? AND to_amount = ?',
      )
      .run(
        txHash,
        r.consumer.toLowerCase(),
        r.operator.toLowerCase(),
        r.modelId.toString(),
        r.toAmount.toString(),
      );
  }

  deleteRedemption(r: RedemptionRecord): void {
    this.sql
      .prepare(
        'DELETE FROM economy_redemptions WHERE consumer = ? AND operator = ? AND model_id = ? AND to_amount = ?',
      )
      .run(r.consumer.toLowerCase(), r.operator.toLowerCase(), r.modelId.toString(), r.toAmount.toString());
  }

  redemptions(epoch: number): RedemptionRecord[] {
    return (
      this.sql
        .prepare(
          'SELECT * FROM economy_redemptions WHERE epoch = ? ORDER BY consumer, operator, model_id, to_amount',
        )
        .all(epoch) as Row[]
    ).map(toRedemption);
  }

  // ---- penalties -------------------------------------------------------------------------

  addFlag(f: PenaltyFlag): void {
    const c = checkFlag(f);
    this.sql
      .prepare(
        'INSERT INTO economy_flags (contributor, kind, points, reason, evidence, epoch, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(c.contributor, c.kind, c.points, c.reason, c.evidence ?? null, c.epoch, new Date().toISOString());
  }

  addFlags(flags: readonly PenaltyFlag[]): void {
    const checked = flags.map(checkFlag);
    this.store.transaction(() => {
      for (const f of checked) this.addFlag(f);
    });
  }

  flags(contributor?: string): PenaltyFlag[] {
    const rows = (
      contributor
        ? this.sql
            .prepare('SELECT * FROM economy_flags WHERE contributor = ? ORDER BY seq')
            .all(contributor.toLowerCase())
        : this.sql.prepare('SELECT * FROM economy_flags ORDER BY seq').all()
    ) as Row[];
    return rows.map((r) => ({
      contributor: r.contributor as string,
      kind: r.kind as PenaltyFlag['kind'],
      points: r.points as number,
      reason: r.reason as string,
      epoch: r.epoch as number,
      ...(r.evidence === null ? {} : { evidence: r.evidence as string }),
    }));
  }

  /** A contributor's penalty score and the flags (with reasons) behind it. */
  penaltyReport(contributor: string): PenaltyScore {
    const c = contributor.toLowerCase();
    return penaltyScores(this.flags(c)).get(c) ?? { contributor: c, score: 0, flags: [] };
  }

  // ---- epochs and rewards ----------------------------------------------------------------

  recordEpoch(rec: EpochRecord, rewards: ReadonlyMap<string, bigint>): void {
    this.store.transaction(() => {
      this.sql
        .prepare(
          `INSERT INTO economy_epochs (epoch, root, total, funded, withheld, unassigned, manifest, uri, tx_hash, settled_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          rec.epoch,
          rec.root,
          rec.total.toString(),
          rec.funded.toString(),
          rec.withheld.toString(),
          rec.unassigned.toString(),
          rec.manifest,
          rec.uri,
          rec.txHash,
          rec.settledAt,
        );
      const ins = this.sql.prepare('INSERT INTO economy_rewards (epoch, account, amount) VALUES (?, ?, ?)');
      for (const [a, v] of rewards) ins.run(rec.epoch, a.toLowerCase(), v.toString());
    });
  }

  epoch(epoch: number): EpochRecord | undefined {
    const r = this.sql.prepare('SELECT * FROM economy_epochs WHERE epoch = ?').get(epoch) as Row | undefined;
    if (!r) return undefined;
    return {
      epoch: r.epoch as number,
      root: r.root as Hex,
      total: BigInt(r.total as string),
      funded: BigInt(r.funded as string),
      withheld: BigInt(r.withheld as string),
      unassigned: BigInt(r.unassigned as string),
      manifest: r.manifest as string,
      uri: r.uri as string,
      txHash: (r.tx_hash as Hex | null) ?? null,
      settledAt: r.settled_at as string,
    };
  }

  epochs(): EpochRecord[] {
    return (
      this.sql.prepare('SELECT epoch FROM economy_epochs ORDER BY epoch').all() as { epoch: number }[]
    ).map((r) => this.epoch(r.epoch)!);
  }

  /** A contributor's reward per settled epoch. */
  rewardsOf(account: string): { epoch: number; amount: bigint }[] {
    return (
      this.sql
        .prepare('SELECT epoch, amount FROM economy_rewards WHERE account = ? ORDER BY epoch')
        .all(account.toLowerCase()) as { epoch: number; amount: string }[]
    ).map((r) => ({ epoch: r.epoch, amount: BigInt(r.amount) }));
  }
}
