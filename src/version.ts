/** Package version; also the environment catalog version, as in the reference product. */
export const VERSION = "2.8.0";
