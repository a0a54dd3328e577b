import { extname } from "node:path";
import { DEFAULT_MEDIA_TYPE } from "./file-description.js";

// A few common types, so an offer says more than application/octet-stream (XEP-0234:
// media-type RECOMMENDED in an offer). Anything else is application/octet-stream.
const BY_EXTENSION: Readonly<Record<string, string>> = {
  ".txt": "text/plain",
  ".md": "text/markdown",
  ".csv": "text/csv",
  ".html": "text/html",
  ".json": "application/json",
  ".xml": "application/xml",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".tar": "application/x-tar",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".svg": "image/svg+xml",
  ".mp3": "audio/mpeg",
  ".ogg": "audio/ogg",
  ".opus": "audio/opus",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
};

/** The media type for a file name, by its extension. */
export function mediaTypeFor(name: string): string {
  return BY_EXTENSION[extname(name).toLowerCase()] ?? DEFAULT_MEDIA_TYPE;
}
