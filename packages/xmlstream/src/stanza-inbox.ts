/**
 * Where received stanzas wait for the application: a bounded backlog until someone
 * listens, and one bounded buffer per async iterator. When a buffer is full, reading
 * from the underlying stream pauses, so a peer that outpaces the application is held
 * back by transport backpressure (TLS, then the IBB window) instead of filling memory.
 */
import type { Element } from "@xtls/core";

interface Waiter {
  resolve(result: IteratorResult<Element>): void;
  reject(error: Error): void;
}

class IteratorBuffer {
  readonly items: Element[] = [];
  waiter: Waiter | undefined;
}

export interface StanzaInboxOptions {
  /** Stanzas held per buffer before reading pauses. */
  readonly limit: number;
  /** The 'stanza' listeners, called in order; one that throws does not stop the others. */
  readonly listeners: () => Array<(stanza: Element) => void>;
  readonly onListenerError: (error: unknown) => void;
  /** Stop reading from the peer. */
  readonly pause: () => void;
  /** Start reading again. */
  readonly resume: () => void;
}

export class StanzaInbox {
  readonly #options: StanzaInboxOptions;
  /** Stanzas that arrived while nobody was listening or iterating, in order. */
  readonly #backlog: Element[] = [];
  readonly #iterators = new Set<IteratorBuffer>();
  #ended: { error: Error | undefined } | undefined;
  #flushScheduled = false;
  #paused = false;

  constructor(options: StanzaInboxOptions) {
    this.#options = options;
  }

  /** A stanza for the application. */
  deliver(stanza: Element): void {
    if (!this.#hasConsumers() || this.#backlog.length > 0) {
      // Keep arrival order: a backlog being flushed goes first.
      this.#backlog.push(stanza);
      if (this.#hasConsumers()) this.#scheduleFlush();
      this.#checkPressure();
      return;
    }
    this.#fanOut(stanza);
  }

  /** A 'stanza' listener was added: hand it what waited. */
  listenerAdded(): void {
    if (this.#backlog.length > 0) this.#scheduleFlush();
  }

  /** No more stanzas will come; iterators finish (with `error`, if any) after their buffers. */
  end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = { error };
    this.#paused = false;
    for (const it of this.#iterators) this.#settle(it);
  }

  /** Every stanza delivered from now on, plus the backlog; ends when the stream closes. */
  iterate(): AsyncIterableIterator<Element> {
    const buffer = new IteratorBuffer();
    this.#iterators.add(buffer);
    this.#scheduleFlush();
    const done = (): IteratorResult<Element> => {
      this.#iterators.delete(buffer);
      this.#checkPressure();
      return { done: true, value: undefined };
    };
    const iterator: AsyncIterableIterator<Element> = {
      next: () => {
        this.#flush();
        const item = buffer.items.shift();
        if (item !== undefined) {
          this.#checkPressure();
          return Promise.resolve({ done: false, value: item });
        }
        if (!this.#iterators.has(buffer)) return Promise.resolve({ done: true, value: undefined });
        return new Promise<IteratorResult<Element>>((resolve, reject) => {
          buffer.waiter = { resolve, reject };
          this.#settle(buffer);
        });
      },
      // Leaving a `for await` loop stops the iteration, not the stream.
      return: () => Promise.resolve(done()),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  #hasConsumers(): boolean {
    return this.#iterators.size > 0 || this.#options.listeners().length > 0;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#backlog.length > 0 && this.#hasConsumers()) this.#fanOut(this.#backlog.shift()!);
    this.#checkPressure();
  }

  #fanOut(stanza: Element): void {
    for (const listener of this.#options.listeners()) {
      try {
        listener(stanza);
      } catch (error) {
        this.#options.onListenerError(error);
      }
    }
    for (const it of this.#iterators) {
      if (it.waiter) {
        const { resolve } = it.waiter;
        it.waiter = undefined;
        resolve({ done: false, value: stanza });
      } else {
        it.items.push(stanza);
      }
    }
    this.#checkPressure();
  }

  // An iterator with nothing left learns how the stream ended.
  #settle(it: IteratorBuffer): void {
    if (!this.#ended || !it.waiter || it.items.length > 0) return;
    const { resolve, reject } = it.waiter;
    it.waiter = undefined;
    this.#iterators.delete(it);
    if (this.#ended.error) reject(this.#ended.error);
    else resolve({ done: true, value: undefined });
  }

  #checkPressure(): void {
    if (this.#ended) return;
    let fullest = this.#backlog.length;
    for (const it of this.#iterators) fullest = Math.max(fullest, it.items.length);
    if (!this.#paused && fullest >= this.#options.limit) {
      this.#paused = true;
      this.#options.pause();
    } else if (this.#paused && fullest <= this.#options.limit / 2) {
      this.#paused = false;
      this.#options.resume();
    }
  }
}
