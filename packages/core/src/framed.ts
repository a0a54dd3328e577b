/**
 * A byte stream that carries data in frames of a fixed size, each frame one stanza (an
 * IBB block). A writer that produces records of its own (TLS) can size them to fill
 * frames exactly: a TLS record of 16 406 octets over blocks of 16 384 would otherwise
 * leave a 22-octet tail that costs a stanza of its own whenever nothing else is queued.
 */
export interface FramedStream {
  /** The payload octets of one frame. */
  readonly frameSize: number;
}

/** The frame size of `stream`, when it is a {@link FramedStream}. */
export function frameSizeOf(stream: unknown): number | undefined {
  const size = (stream as Partial<FramedStream> | null | undefined)?.frameSize;
  return typeof size === "number" && Number.isInteger(size) && size > 0 ? size : undefined;
}
