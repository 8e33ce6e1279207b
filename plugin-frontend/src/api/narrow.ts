/**
 * Helpers that refine the generated wire types (./generated.ts) for the UI.
 * Both fail to compile when the Go side renames a field they name.
 */

/**
 * `W` with the fields of `R` narrowed: a key of `R` that `W` lacks, or a
 * type `W`'s field cannot hold, does not compile.
 *
 * @public
 */
export type Narrow<W, R extends { [K in keyof R]: K extends keyof W ? W[K] : never }> = Omit<W, keyof R> & R;

/**
 * `W` with fields of `R` in place of its own: a key of `R` that `W` lacks does not compile.
 *
 * @public
 */
export type Replace<W, R extends { [K in keyof R]: K extends keyof W ? unknown : never }> = Omit<W, keyof R> & R;
