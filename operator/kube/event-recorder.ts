/**
 * Aggregating Event recorder, the way client-go's EventCorrelator does it: an Event identical
 * to one this process already recorded (same involved object uid, type, reason, message and
 * source component) is not created again; the existing Event's `count` is incremented and its
 * `lastTimestamp` moved, so `kubectl describe` shows "(x12 over 5m)" instead of a flood.
 *
 * The memory is a bounded LRU (default 1024 keys) per process: after an operator restart the
 * first repeat creates a new Event (client-go behaves the same). When the remembered Event is
 * gone (expired by the apiserver's event TTL, 1 h by default, or deleted) the increment fails
 * with 404 and a fresh Event is created. Pure apart from the injected sink and clock.
 */

export interface EventInvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly resourceVersion?: string;
}

export interface EventToRecord {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/** The Kubernetes side, injected (createKubeApi wires the real one). */
export interface EventSink {
  /** Creates a core/v1 Event; resolves with the name the apiserver gave it. */
  create(event: {
    readonly involvedObject: EventInvolvedObject;
    readonly record: EventToRecord;
    readonly component: string;
    readonly timestamp: string;
  }): Promise<string>;
  /**
   * Sets `count` and `lastTimestamp` of an existing Event. Resolves false when the Event no
   * longer exists (404); other errors reject.
   */
  increment(namespace: string, name: string, count: number, timestamp: string): Promise<boolean>;
}

interface Remembered {
  readonly name: string;
  count: number;
}

/** Longest message kept in an Event (the apiserver accepts more; kubectl output does not). */
export const MAX_EVENT_MESSAGE = 1024;

export class EventRecorder {
  private readonly seen = new Map<string, Remembered>();

  constructor(
    private readonly sink: EventSink,
    private readonly component: string,
    private readonly now: () => Date = () => new Date(),
    private readonly capacity = 1024,
  ) {}

  async record(involvedObject: EventInvolvedObject, event: EventToRecord): Promise<void> {
    const record = { ...event, message: event.message.slice(0, MAX_EVENT_MESSAGE) };
    const key = JSON.stringify([
      involvedObject.namespace,
      involvedObject.uid,
      record.type,
      record.reason,
      record.message,
      this.component,
    ]);
    const timestamp = this.now().toISOString();
    const remembered = this.seen.get(key);
    if (remembered !== undefined) {
      // Refresh the LRU position.
      this.seen.delete(key);
      this.seen.set(key, remembered);
      const count = remembered.count + 1;
      if (await this.sink.increment(involvedObject.namespace, remembered.name, count, timestamp)) {
        remembered.count = count;
        return;
      }
      this.seen.delete(key);
    }
    const name = await this.sink.create({
      involvedObject,
      record,
      component: this.component,
      timestamp,
    });
    this.seen.set(key, { name, count: 1 });
    while (this.seen.size > this.capacity) {
      const oldest = this.seen.keys().next();
      if (oldest.done === true) break;
      this.seen.delete(oldest.value);
    }
  }
}
