/**
 * The engine's memory layout, as build.ts makes it: shared by the build and by the glue that
 * instantiates the engine (which must not import the build, and binaryen with it).
 */

/**
 * The engine's initial linear memory, in 64 KiB pages. The published build asks for 256 (16 MiB)
 * though its data and its 5 MiB C stack end below 5.3 MiB; with the stack made 1 MiB (see
 * ENGINE_STACK_TOP), a prepared instance's heap ends below 2.2 MiB. V8 counts each instance's
 * whole memory as external memory, and collects its heap each time that has grown by a few tens
 * of MiB: with 7 MiB instances, 337 extra scavenges and 1.9 s of collection for a burst of 1,000
 * agents; with 3 MiB, 156 and 1.1 s. The heap grows past this as the guest needs
 * (emscripten_resize_heap).
 */
export const ENGINE_INITIAL_PAGES = 48;

/**
 * This engine's C stack: 1 MiB above the static data, and the heap right above it. QuickJS
 * bounds a guest's recursion at MAX_STACK_BYTES (256 KiB) of this stack, and nothing else in the
 * engine uses more than a few KiB of it; the 4 MiB it no longer reserves made every instance's
 * memory that much smaller (see ENGINE_INITIAL_PAGES).
 */
export const ENGINE_STACK_TOP = 90_208 + 1024 * 1024;
