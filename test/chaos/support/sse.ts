/** A minimal Server-Sent Events client: what a browser's EventSource sees, with how the stream ended. */

export interface SseEvent {
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  events: SseEvent[];
  /** 'clean': the server ended the response; 'network-error': the connection broke under it. */
  done: Promise<{ ended: 'clean' | 'network-error'; error?: string }>;
}

/** Opens the stream; rejects when the server cannot be reached, or answers with no stream, or stays silent past `timeoutMs`. */
export async function openEvents(url: string, key: string, timeoutMs: number): Promise<SseStream> {
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  try {
    const res = await fetch(url, { headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' }, signal: abort.signal });
    if (!res.body || res.status !== 200) throw new Error(`no event stream: ${res.status} ${await res.text()}`);
    const events: SseEvent[] = [];
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const done = (async () => {
      let buffer = '';
      try {
        for (;;) {
          const { value, done: finished } = await reader.read();
          if (finished) return { ended: 'clean' as const };
          buffer += value;
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const field = (name: string) =>
              block
                .split('\n')
                .filter((l) => l.startsWith(`${name}:`))
                .map((l) => l.slice(name.length + 1).trimStart())
                .join('\n');
            if (block.startsWith(':')) continue;
            events.push({ event: field('event') || 'message', data: field('data') });
          }
        }
      } catch (err) {
        if (timedOut) throw new Error(`event stream still open after ${timeoutMs} ms`);
        return { ended: 'network-error' as const, error: String(err) };
      } finally {
        clearTimeout(timer);
      }
    })();
    return { status: res.status, events, done };
  } catch (err) {
    clearTimeout(timer);
    throw err;
  }
}
