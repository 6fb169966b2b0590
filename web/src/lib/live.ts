/**
 * Live updates (issue 19): the trader's WebSocket feed of their own orders, executions and
 * positions (seed 001 "Real-time WebSocket APIs": `{"type", "data"}` messages), with polling as
 * the fallback whenever the socket is not open.
 *
 * - The URL comes from `config.json` (`liveUrl`: the local platform's `ws://127.0.0.1:PORT/execution/live`,
 *   API Gateway's `wss://{api}.execute-api.{region}.amazonaws.com/{env}` when deployed). The
 *   Cognito ID token goes as the `token` query parameter (browsers cannot set headers on a
 *   WebSocket); the server refuses the handshake without a valid one.
 * - `LiveConnection` reconnects after a drop with a growing delay (1, 2, 5, 10, 30 s, then every
 *   30 s), taking a fresh token each time, and pings every 5 minutes (API Gateway closes a
 *   connection idle for 10 minutes).
 * - `useLiveUpdates` tells the page whether to poll: while the socket is open the queries
 *   refresh on each message (and by a slow safety poll); otherwise they poll every `pollMs` and
 *   the page says "Live updates paused, polling every N s".
 */
import { useEffect, useRef, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { config } from "./config";
import { currentSession } from "./auth";

/** connecting: first attempt; live: socket open; polling: no socket (dropped, refused, or no URL). */
export type LiveState = "connecting" | "live" | "polling";

export interface LiveMessage {
  type: "ORDER_STATUS" | "EXECUTION_STATUS" | "POSITION_UPDATE" | string;
  data: Record<string, unknown>;
}

/** The `data` of an ORDER_STATUS message (shared_utils/live/messages.py). */
export interface LiveOrder {
  order_key: string;
  order_id?: string | null;
  execution_id: string;
  strategy_id?: string;
  client_id: string;
  leg_no?: number;
  purpose?: string;
  tradingsymbol: string;
  transaction_type: string;
  quantity: number;
  lots?: number;
  lot_size?: number;
  filled_quantity?: number;
  price?: string | null;
  average_price?: string | null;
  status: string;
  broker_message?: string | null;
  execute_at?: string | null;
  sent_at?: string | null;
  /** ms from the execution's target second to the send; null for stops/targets */
  lag_ms: number | null;
  timestamp?: string | null;
}

/** The `data` of a SYSTEM_ALERT message: what happened and where, in words. */
export interface LiveAlert {
  kind: string;
  severity: "warning" | "critical" | string;
  message: string;
  order_key?: string | null;
  execution_id?: string | null;
  strategy_id?: string | null;
  client_id?: string | null;
  timestamp?: string | null;
}

export const RECONNECT_DELAYS_MS = [1000, 2000, 5000, 10000, 30000];
export const PING_MS = 5 * 60 * 1000;

export interface LiveOptions {
  /** the feed's URL; null/empty: no live feed here (always polling) */
  url: string | null | undefined;
  /** the current Cognito ID token (null: signed out, poll) */
  token: () => string | null;
  onMessage: (message: LiveMessage) => void;
  onState: (state: LiveState) => void;
  WebSocketImpl?: typeof WebSocket;
  delaysMs?: number[];
  pingMs?: number;
}

export class LiveConnection {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  state: LiveState = "connecting";

  constructor(private readonly options: LiveOptions) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.retryTimer = this.pingTimer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= 1) socket.close(1000, "page left");
  }

  private setState(state: LiveState): void {
    if (state !== this.state) {
      this.state = state;
      this.options.onState(state);
    }
  }

  private connect(): void {
    const token = this.options.token();
    if (!this.options.url || !token) {
      this.setState("polling");
      return; // nothing to connect to (no feed configured, or signed out)
    }
    const Impl = this.options.WebSocketImpl ?? globalThis.WebSocket;
    const separator = this.options.url.includes("?") ? "&" : "?";
    let socket: WebSocket;
    try {
      socket = new Impl(`${this.options.url}${separator}token=${encodeURIComponent(token)}`);
    } catch {
      this.dropped();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.setState("live");
      if (this.pingTimer) clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => {
        if (socket.readyState === 1) socket.send(JSON.stringify({ action: "ping" }));
      }, this.options.pingMs ?? PING_MS);
    };
    socket.onmessage = (event: MessageEvent) => {
      try {
        const message = JSON.parse(String(event.data)) as LiveMessage;
        if (message && typeof message.type === "string") this.options.onMessage(message);
      } catch {
        /* not a feed message: ignored */
      }
    };
    socket.onclose = () => {
      if (this.socket === socket) this.dropped();
    };
    socket.onerror = () => {
      /* a close follows every error; onclose schedules the retry */
    };
  }

  private dropped(): void {
    this.socket = null;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.stopped) return;
    this.setState("polling");
    const delays = this.options.delaysMs ?? RECONNECT_DELAYS_MS;
    const delay = delays[Math.min(this.attempt, delays.length - 1)];
    this.attempt += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }
}

/** The feed URL from config.json (`liveUrl`), if this environment has one. */
export function liveUrl(): string | null {
  try {
    return ((config() as { liveUrl?: string | null }).liveUrl ?? null) || null;
  } catch {
    return null;
  }
}

export interface LiveUpdates {
  state: LiveState;
  /** the latest ORDER_STATUS of each order this page has seen live, newest first */
  orders: LiveOrder[];
  /** alerts received live, newest first */
  alerts: LiveAlert[];
  /** what the page's queries should poll at: `pollMs` unless the socket is open */
  refetchInterval: number;
}

/** The slow safety poll while the socket is open (a message lost in transit still shows). */
export const LIVE_SAFETY_POLL_MS = 30000;
const MAX_LIVE_ORDERS = 100;
const MAX_LIVE_ALERTS = 20;

/**
 * Subscribe the page to the feed: each message refreshes the queries it concerns
 * (["execution", id] and ["executions"] for orders and executions, ["positions"] for positions),
 * a reconnect refreshes everything it may have missed, and `refetchInterval` is `pollMs` while
 * the socket is not open.
 */
export function useLiveUpdates(options: { pollMs: number; url?: string | null; WebSocketImpl?: typeof WebSocket; delaysMs?: number[] }): LiveUpdates {
  const client = useQueryClient();
  const [state, setState] = useState<LiveState>("connecting");
  const [orders, setOrders] = useState<LiveOrder[]>([]);
  const [alerts, setAlerts] = useState<LiveAlert[]>([]);
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const url = options.url === undefined ? liveUrl() : options.url;

  useEffect(() => {
    let wasLive = false;
    const connection = new LiveConnection({
      url,
      token: () => currentSession()?.idToken ?? null,
      WebSocketImpl: optionsRef.current.WebSocketImpl,
      delaysMs: optionsRef.current.delaysMs,
      onState: (next) => {
        setState(next);
        if (next === "live") {
          if (wasLive) void client.invalidateQueries(); // back after a drop: catch up on what was missed
          wasLive = true;
        }
      },
      onMessage: (message) => {
        const data = message.data ?? {};
        if (message.type === "ORDER_STATUS") {
          const order = data as unknown as LiveOrder;
          setOrders((current) => [order, ...current.filter((o) => o.order_key !== order.order_key)].slice(0, MAX_LIVE_ORDERS));
          void client.invalidateQueries({ queryKey: ["execution", order.execution_id] });
        } else if (message.type === "EXECUTION_STATUS") {
          void client.invalidateQueries({ queryKey: ["executions"] });
          void client.invalidateQueries({ queryKey: ["execution", data.execution_id] });
        } else if (message.type === "POSITION_UPDATE") {
          void client.invalidateQueries({ queryKey: ["positions"] });
        } else if (message.type === "SYSTEM_ALERT") {
          setAlerts((current) => [data as unknown as LiveAlert, ...current].slice(0, MAX_LIVE_ALERTS));
        }
      },
    });
    connection.start();
    return () => connection.stop();
  }, [url, client]);

  return { state, orders, alerts, refetchInterval: state === "live" ? LIVE_SAFETY_POLL_MS : options.pollMs };
}

/** What the page says about its freshness. */
export function liveStatusText(state: LiveState, pollMs: number): string {
  const seconds = pollMs / 1000;
  if (state === "live") return "Live updates connected: orders, executions and positions appear as they are written.";
  if (state === "connecting") return `Connecting live updates… polling every ${seconds} s meanwhile.`;
  return `Live updates paused, polling every ${seconds} s.`;
}
