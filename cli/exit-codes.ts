/** The CLI's exit status says how the batch (or the command) ended. */
export const ExitCode = {
  completed: 0,
  /** The API answered with an error, or the network failed. */
  error: 1,
  usage: 2,
  partial: 3,
  failed: 4,
  cancelled: 5,
  /** `status` without --watch on a batch that has not ended. */
  running: 6,
} as const;

export function exitCodeOf(status: string): number {
  switch (status) {
    case 'completed':
      return ExitCode.completed;
    case 'partial':
      return ExitCode.partial;
    case 'failed':
      return ExitCode.failed;
    case 'cancelled':
      return ExitCode.cancelled;
    default:
      return ExitCode.running;
  }
}

/** A mistake in how the CLI was called: printed with the usage, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
