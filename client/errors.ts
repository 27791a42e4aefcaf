/** What the API's problem+json answers become on the client side. */
export interface FieldError {
  path: string;
  message: string;
}

/** Every non-2xx answer: the API's RFC 9457 problem, as an Error. */
export class BatchworksError extends Error {
  override readonly name = 'BatchworksError';
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly requestId?: string,
  ) {
    super(`${status} ${title}: ${detail}`);
  }

  /** Builds the error from a failed response; a body that is not a problem still yields one. */
  static async from(res: Response): Promise<BatchworksError> {
    const text = await res.text().catch(() => '');
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      // Not JSON (a proxy's HTML page, say): keep the text as the detail.
    }
    const str = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
    return new BatchworksError(
      typeof body.status === 'number' ? body.status : res.status,
      str(body.type, 'about:blank'),
      str(body.title, res.statusText || 'Request failed'),
      str(body.detail, text.slice(0, 500) || `HTTP ${res.status}`),
      Array.isArray(body.errors) ? (body.errors as FieldError[]) : [],
      typeof body.requestId === 'string' ? body.requestId : undefined,
    );
  }
}

/** A typed `hc` call's JSON answer, or its problem as a BatchworksError. */
export async function unwrap<T>(pending: Promise<{ ok: boolean; json(): Promise<T> } & Response>): Promise<T> {
  const res = await pending;
  if (!res.ok) throw await BatchworksError.from(res);
  return res.json();
}
