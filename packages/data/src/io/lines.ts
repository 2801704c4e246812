/**
 * Line-by-line reading of text files and strings, with transparent gzip, `\r\n` line endings,
 * a UTF-8 byte-order mark stripped from the first line, and 1-based line numbers.
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { DataFormatError } from './errors';

/** Text encodings the loaders accept. MovieLens metadata files are Latin-1. */
export type TextEncoding = 'utf8' | 'latin1';

/** Receives one line (without its line terminator) and its 1-based line number. */
export type LineHandler = (line: string, lineNumber: number) => void;

const CHUNK_BYTES = 1 << 20;
/** Longest accepted line: guards against binary files without newlines. */
const MAX_LINE_CHARS = 1 << 26;

function stripCr(line: string): string {
  return line.length > 0 && line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
}

/**
 * Calls `onLine` for every line of `text` (`\n` or `\r\n` terminated; a final line without a
 * terminator counts, an empty string after the last terminator does not).
 *
 * @returns the number of lines seen
 */
export function forEachTextLine(text: string, onLine: LineHandler): number {
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let lineNumber = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNumber++;
    onLine(stripCr(text.slice(start, end)), lineNumber);
    start = end + 1;
  }
  return lineNumber;
}

/** True when the first two bytes are the gzip magic number `1f 8b`. */
function isGzipMagic(head: Uint8Array, bytesRead: number): boolean {
  return bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Streams the lines of a file to `onLine`. Gzip data is detected by its magic bytes (whatever
 * the file name) and decompressed on the fly; the file is never held in memory whole.
 * Errors thrown by `onLine` propagate unchanged; I/O and decompression failures become
 * {@link DataFormatError}s (line 0 for a missing file, otherwise the last complete line read).
 *
 * @param path - file to read
 * @param encoding - text encoding of the (decompressed) bytes
 * @param onLine - line callback
 * @param expected - description of the expected format, for error messages
 * @returns the number of lines seen
 */
export async function forEachFileLine(
  path: string,
  encoding: TextEncoding,
  onLine: LineHandler,
  expected: string,
): Promise<number> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    const problem = code === 'ENOENT' ? 'file not found' : `cannot open file (${code ?? 'error'})`;
    throw new DataFormatError(problem, { file: path, line: 0, text: '', expected, cause });
  }
  let lineNumber = 0;
  let stream: Readable | undefined;
  try {
    const head = new Uint8Array(2);
    let gzip = false;
    try {
      const { bytesRead } = await handle.read(head, 0, 2, 0);
      gzip = isGzipMagic(head, bytesRead);
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      throw new DataFormatError(`cannot read file (${code ?? 'error'})`, {
        file: path,
        line: 0,
        text: '',
        expected,
        cause,
      });
    }
    const raw = handle.createReadStream({ start: 0, highWaterMark: CHUNK_BYTES, autoClose: true });
    stream = gzip
      ? pipeline(raw, createGunzip({ chunkSize: CHUNK_BYTES }), () => undefined)
      : (raw as Readable);
    const decoder = new StringDecoder(encoding);
    let pending = '';
    let first = true;
    try {
      for await (const chunk of stream) {
        let text = pending + decoder.write(chunk as Buffer);
        if (first && text.length > 0) {
          if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
          first = false;
        }
        let start = 0;
        let end = text.indexOf('\n', start);
        while (end >= 0) {
          lineNumber++;
          onLine(stripCr(text.slice(start, end)), lineNumber);
          start = end + 1;
          end = text.indexOf('\n', start);
        }
        pending = start === 0 ? text : text.slice(start);
        if (pending.length > MAX_LINE_CHARS) {
          throw new DataFormatError(
            `line ${lineNumber + 1} is longer than ${MAX_LINE_CHARS} characters (binary data?)`,
            { file: path, line: lineNumber + 1, text: pending.slice(0, 80), expected },
          );
        }
      }
    } catch (cause) {
      if (cause instanceof DataFormatError) throw cause;
      const code = (cause as { code?: string }).code;
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new DataFormatError(
        gzip
          ? `corrupt gzip data after line ${lineNumber} (${message})`
          : `read failed after line ${lineNumber} (${code ?? message})`,
        { file: path, line: 0, text: '', expected, cause },
      );
    }
    let rest = pending + decoder.end();
    if (first && rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1);
    if (rest.length > 0) {
      lineNumber++;
      onLine(stripCr(rest), lineNumber);
    }
    return lineNumber;
  } finally {
    stream?.destroy();
    await handle.close().catch(() => undefined);
  }
}
