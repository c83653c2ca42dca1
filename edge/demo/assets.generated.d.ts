// Types of the module edge/demo/build.ts generates (assets.generated.js).

/** The demo page's HTML. */
export declare const html: string;
/** The demo page's stylesheet. */
export declare const css: string;
/** The demo page's script: the SDK and socket.io-client bundled for browsers (ES module). */
export declare const script: string;
