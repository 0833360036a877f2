/** Types of embed-builtins.mjs (a script run by node before tsc, not compiled). */
export declare const POLICIES_DIR: string;
export declare const OUTPUT: string;
export declare function renderBuiltinTexts(dir?: string): string;
