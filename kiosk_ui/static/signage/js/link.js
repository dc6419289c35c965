// The sign's MQTT link: mqtt.js over WebSockets to the venue's broker, read-only.
//
// mqtt.js reconnects by itself every `reconnectPeriod`; we double that period after every failed
// attempt up to MAX_BACKOFF_MS (a broker that is restarting is not hammered by every TV in the
// venue at once) and go back to the minimum once connected. Subscriptions are made again on every
// connect (clean session), and the broker sends the retained state at once.

import mqtt from "/kiosk/static/vendor/mqtt/mqtt.esm.js";

export const MIN_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 10000;

export class Link {
  /**
   * BROKER: {url, username, password, base}; FILTERS: topic filters after the base;
   * handlers: onMessage(topicAfterBase, text), onState(connected).
   */
  constructor(broker, clientId, filters, { onMessage, onState }) {
    this.broker = broker;
    this.clientId = clientId;
    this.filters = filters;
    this.onMessage = onMessage;
    this.onState = onState;
    this.connected = false;
    this.client = null;
    this.decoder = new TextDecoder();
  }

  start() {
    const { url, username, password, base } = this.broker;
    const client = mqtt.connect(url, {
      clientId: this.clientId,
      username: username || undefined,
      password: password || undefined,
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      connectTimeout: 5000,
      reconnectPeriod: MIN_BACKOFF_MS,
      resubscribe: false, // we subscribe on every connect ourselves
      timerVariant: "native", // not a blob: Worker (the page's CSP allows none); a sign is never a background tab
    });
    this.client = client;
    const prefix = `${base}/`;
    client.on("connect", () => {
      client.options.reconnectPeriod = MIN_BACKOFF_MS;
      this.#set(true);
      client.subscribe(
        this.filters.map((f) => `${base}/${f}`),
        { qos: 1 },
      );
    });
    client.on("close", () => {
      client.options.reconnectPeriod = Math.min(MAX_BACKOFF_MS, client.options.reconnectPeriod * 2);
      this.#set(false);
    });
    client.on("offline", () => this.#set(false));
    client.on("error", () => {}); // a refused password or a broker away: "close" follows, we retry
    client.on("message", (topic, payload) => {
      if (!topic.startsWith(prefix)) return;
      this.onMessage(topic.slice(prefix.length), this.decoder.decode(payload));
    });
  }

  #set(connected) {
    if (connected === this.connected) return;
    this.connected = connected;
    this.onState(connected);
  }

  /** Publish one message (not retained) under the base: the heartbeat; dropped while offline. */
  publish(topicAfterBase, text) {
    if (!this.client || !this.connected) return;
    this.client.publish(`${this.broker.base}/${topicAfterBase}`, text, { qos: 0, retain: false });
  }

  stop() {
    if (this.client) this.client.end(true);
    this.client = null;
  }
}
