/**
 * How many times `fn` calls `String.prototype.indexOf`. ltx looks for the end of a text or
 * attribute value with it, once per character of a run its input cut off: the count is the
 * work of the quadratic case, measured without timing anything.
 */
export async function countSearches(fn: () => unknown): Promise<number> {
  const indexOf = String.prototype.indexOf;
  let searches = 0;
  String.prototype.indexOf = function (this: string, ...args: Parameters<string["indexOf"]>) {
    searches++;
    return indexOf.apply(this, args);
  };
  try {
    await fn();
  } finally {
    String.prototype.indexOf = indexOf;
  }
  return searches;
}
