/**
 * The single error type of every loader in this package: a malformed line, a missing or
 * unreadable file, a corrupt gzip stream, an empty file, or a header that lacks a column.
 */

/** Longest excerpt of offending text kept in {@link DataFormatError.text}. */
const MAX_TEXT = 80;

/** Shortens `text` to at most {@link MAX_TEXT} characters (ellipsis appended when cut). */
export function truncateText(text: string, max = MAX_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Where and why a {@link DataFormatError} happened. */
export interface DataFormatErrorDetails {
  /** Path of the file (or the `source` label of in-memory text). */
  readonly file: string;
  /** 1-based line number of the offending line; 0 when the problem is not tied to one line. */
  readonly line: number;
  /** The offending text (truncated to 80 characters); `''` when there is none. */
  readonly text: string;
  /** A description of the expected format. */
  readonly expected: string;
  /** The underlying error (I/O or zlib), when there is one. */
  readonly cause?: unknown;
}

/**
 * Thrown by every loader and parser of `@dnr/data` for bad input. The message names the
 * file, the 1-based line number, the offending text (truncated) and the expected format:
 *
 * ```
 * ratings.dat:17: expected 4 fields separated by '::', found 1: "1,2,5,978300760" (expected UserID::MovieID::Rating::Timestamp)
 * ```
 */
export class DataFormatError extends Error {
  /** Path of the file (or the `source` label of in-memory text). */
  readonly file: string;
  /** 1-based line number; 0 when the problem concerns the whole file (missing, empty, corrupt gzip). */
  readonly line: number;
  /** Offending text, truncated to 80 characters. */
  readonly text: string;
  /** The expected format. */
  readonly expected: string;

  /**
   * @param problem - what is wrong, in a few words
   * @param details - location, offending text and expected format
   */
  constructor(problem: string, details: DataFormatErrorDetails) {
    const text = truncateText(details.text);
    const where = details.line > 0 ? `${details.file}:${details.line}` : details.file;
    const shown = text.length > 0 ? `: ${JSON.stringify(text)}` : '';
    super(
      `${where}: ${problem}${shown} (expected ${details.expected})`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.name = 'DataFormatError';
    this.file = details.file;
    this.line = details.line;
    this.text = text;
    this.expected = details.expected;
  }
}
