import { describe, expect, it } from 'vitest';
import { EventRecorder, MAX_EVENT_MESSAGE, type EventSink } from './event-recorder.ts';

class FakeSink implements EventSink {
  events = new Map<string, { reason: string; message: string; count: number; last: string }>();
  private next = 0;
  async create(event: Parameters<EventSink['create']>[0]) {
    const name = `e${this.next++}`;
    this.events.set(name, {
      reason: event.record.reason,
      message: event.record.message,
      count: 1,
      last: event.timestamp,
    });
    return name;
  }
  async increment(_namespace: string, name: string, count: number, timestamp: string) {
    const event = this.events.get(name);
    if (event === undefined) return false;
    event.count = count;
    event.last = timestamp;
    return true;
  }
}

const object = { apiVersion: 'v1', kind: 'X', name: 'w', namespace: 'n', uid: 'u1' };

describe('EventRecorder', () => {
  it('aggregates identical events into one with a count and the last timestamp', async () => {
    const sink = new FakeSink();
    let t = 0;
    const recorder = new EventRecorder(sink, 'op', () => new Date(1_000 * t++));
    for (let i = 0; i < 3; i++)
      await recorder.record(object, { type: 'Warning', reason: 'R', message: 'm' });
    expect([...sink.events.values()]).toEqual([
      { reason: 'R', message: 'm', count: 3, last: new Date(2_000).toISOString() },
    ]);
  });

  it('keeps different messages, reasons and objects apart', async () => {
    const sink = new FakeSink();
    const recorder = new EventRecorder(sink, 'op');
    await recorder.record(object, { type: 'Warning', reason: 'R', message: 'a' });
    await recorder.record(object, { type: 'Warning', reason: 'R', message: 'b' });
    await recorder.record(object, { type: 'Warning', reason: 'S', message: 'a' });
    await recorder.record({ ...object, uid: 'u2' }, { type: 'Warning', reason: 'R', message: 'a' });
    expect(sink.events.size).toBe(4);
  });

  it('creates a fresh event when the remembered one is gone (TTL, deletion)', async () => {
    const sink = new FakeSink();
    const recorder = new EventRecorder(sink, 'op');
    await recorder.record(object, { type: 'Normal', reason: 'R', message: 'm' });
    sink.events.clear();
    await recorder.record(object, { type: 'Normal', reason: 'R', message: 'm' });
    await recorder.record(object, { type: 'Normal', reason: 'R', message: 'm' });
    expect([...sink.events.values()].map((e) => e.count)).toEqual([2]);
  });

  it('forgets the least recently used key beyond its capacity, and caps messages', async () => {
    const sink = new FakeSink();
    const recorder = new EventRecorder(sink, 'op', () => new Date(0), 2);
    for (const message of ['a', 'b', 'c', 'a'])
      await recorder.record(object, { type: 'Normal', reason: 'R', message });
    // 'a' was evicted by 'c', so its repeat is a new Event.
    expect(sink.events.size).toBe(4);
    await recorder.record(object, { type: 'Normal', reason: 'R', message: 'x'.repeat(5_000) });
    expect([...sink.events.values()].at(-1)?.message).toHaveLength(MAX_EVENT_MESSAGE);
  });
});
