// Types of presence-client.js, the JavaScript client of presence
// (docs/SDK.md; the wire protocol is docs/PROTOCOL.md).

/** A status a user can choose. */
export type ChosenStatus = 'online' | 'away' | 'dnd' | 'invisible';
/** A status as shown: `invisible` only to the user's own sessions. */
export type Status = ChosenStatus | 'offline';

/** A presence object (PROTOCOL §4), as the server sends it. */
export interface Presence {
  user_id: string;
  status: Status;
  /** Any live session and not invisible. */
  is_online: boolean;
  text: string | null;
  /** ms since the epoch when last online (for an online user: the time of the answer); null if never seen. */
  last_seen: number | null;
  /** ms since the epoch when the shown status began. */
  since: number | null;
  meta: Record<string, unknown> | null;
  /** True when the shown `away` comes from auto-away, not a choice. */
  auto: boolean;
}

export interface TypingEvent {
  thread_id: string;
  user_id: string;
  active: boolean;
}

export type ConnectionState = 'idle' | 'connecting' | 'online' | 'offline' | 'closed';

/**
 * Why the state changed. `closed` is final (no reconnect): reason
 * `closed` (close()), `kicked` (an admin ended the session, close 4001),
 * `unauthorized` (the token was refused, close 1008).
 */
export interface StateEvent {
  state: ConnectionState;
  reason?: 'server_restart' | 'connection_lost' | 'token_expired' | 'token_unavailable'
    | 'connection_failed' | 'connect_timeout' | 'no_response'
    | 'closed' | 'kicked' | 'unauthorized';
  /** The WebSocket close code, when a close caused it. */
  code?: number;
  message?: string;
  /** state `offline`: the delay before the next attempt. */
  retryInMs?: number;
  /** state `connecting` / `offline`: the backoff attempt counter. */
  attempt?: number;
  /** The gateway URL (`connecting`, `online`). */
  url?: string;
  /** state `online`. */
  sessionId?: string;
  userId?: string;
}

export interface AutoAwayOptions {
  /** No input for this long: idle (default 300000, 5 minutes). */
  idleMs?: number;
  /** A hidden page is idle (default true). */
  whenHidden?: boolean;
}

/** A WebSocket constructor: the browser's, or `ws` in Node. */
export type WebSocketLike = new (url: string, protocols?: string | string[]) => any;

export interface PresenceClientOptions {
  /** Gateway URL(s), ws(s):// or http(s):// (a bare origin gets /v1/ws). Several: spread over them.
   *  Default in a browser: the gateway this module was loaded from. */
  url?: string | string[];
  /** A JWT, or a provider called before every connect and before `exp` (then sent as `refresh`). */
  token?: string | (() => string | Promise<string>);
  /** auth_mode none only: the user id. */
  userId?: string;
  /** hello fields */
  device?: string;
  status?: ChosenStatus;
  text?: string;
  meta?: Record<string, unknown>;
  /** Required in Node < 22 (e.g. `import WebSocket from 'ws'`). */
  WebSocket?: WebSocketLike;
  /** Browsers only (off in Node); false turns it off. Default: 5 minutes, hidden page = idle. */
  autoAway?: boolean | AutoAwayOptions;
  /** Reconnect: full jitter, random(0, min(cap, base * 2^attempt)). Defaults 500, 30000. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** A session that lasted this long resets the backoff (default 60000). */
  stableMs?: number;
  /** After close 1001/1012: reconnect after random(0, spreadMs) (default 2000). */
  spreadMs?: number;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  typingRepeatMs?: number;
  deadAfterMs?: number;
  idleAfterMs?: number;
  /** A source of randomness in [0, 1) (tests). */
  random?: () => number;
}

export class PresenceError extends Error {
  /** A PROTOCOL §4 error code, or `timeout`, `closed`, `disconnected`, `kicked`, `unauthorized`. */
  code: string;
  constructor(code: string, message?: string);
}

export class PresenceClient {
  constructor(options?: PresenceClientOptions);
  readonly state: ConnectionState;
  readonly userId: string | null;
  readonly sessionId: string | null;
  readonly idle: boolean;
  /** Our own presence as our sessions see it. */
  readonly me: Presence | undefined;

  /** Connects (and keeps reconnecting); resolves once online. */
  connect(): Promise<void>;
  /** bye (offline at once, no grace) and no more reconnects. */
  close(): void;

  on(type: 'presence', fn: (p: Presence, previous: Presence | undefined) => void): () => void;
  on(type: 'typing', fn: (e: TypingEvent) => void): () => void;
  on(type: 'state', fn: (e: StateEvent) => void): () => void;
  on(type: 'activity', fn: (e: { idle: boolean }) => void): () => void;
  on(type: 'error', fn: (e: PresenceError) => void): () => void;
  off(type: string, fn: (...args: any[]) => void): void;

  setStatus(status: ChosenStatus, text?: string | null): Promise<void>;
  watch(userIds: string | string[]): Promise<Presence[]>;
  unwatch(userIds: string | string[]): Promise<void>;
  query(userIds: string | string[]): Promise<Presence[]>;
  listOnline(threadId?: string): Promise<Presence[]>;
  typing(threadId: string, active: boolean): void;
  setIdle(idle: boolean): void;

  /** The last known presence of a user. */
  get(userId: string): Presence | undefined;
  /** Every presence the client knows. */
  users(): Presence[];
  /** Who is typing in a thread now (without us). */
  typers(threadId: string): string[];
  /** The server's clock estimate, ms since the epoch. */
  serverNow(): number;
}

/** The delay of reconnect attempt `attempt` (0-based), full jitter. */
export function backoffDelay(attempt: number, baseMs?: number, capMs?: number,
  random?: () => number): number;
/** The `exp` of a JWT in ms since the epoch, or null. */
export function tokenExpiry(token: string): number | null;
