/**
 * MCP tool results as the plain JSON an agent gets back from `tools.call`. One function maps
 * them all, so that every provider and the log see the same shape.
 */
import type { JsonValue } from "../episodic/encoding.js";
import { guestErrors } from "../errors.js";

/** A tool result as the SDK's client returns it (only the fields this mapping reads). */
export type McpToolResult = { [key: string]: unknown };

/** At most this many characters of an error result's text go into the `io` error. */
const ERROR_TEXT_MAX = 2000;

/**
 * Maps a `tools/call` result to plain data:
 * - `structuredContent` (a JSON object), when the server gives it, is the result as it is;
 * - otherwise one content block is the result, and several are a list of them; none is `null`;
 * - a text block is its string; an image or audio block is `{ type, mimeType, data }` (`data`
 *   stays base64); an embedded resource is `{ type: "resource", uri, mimeType?, text? | blob? }`;
 *   a resource link is `{ type: "resource_link", uri, name, mimeType?, description? }`; a block
 *   of an unknown type is kept as the JSON it came as.
 *
 * `isError: true` is a GuestError `io` carrying the text of its text blocks (at most 2,000
 * characters), prefixed by the tool's full name.
 *
 * @example mcpResultToJson("files/read", { content: [{ type: "text", text: "hi" }] }) // "hi"
 */
export function mcpResultToJson(fullName: string, result: McpToolResult): JsonValue {
  const blocks = Array.isArray(result.content) ? (result.content as unknown[]) : [];
  if (result.isError === true) {
    const text = blocks.map((b) => (isTextBlock(b) ? b.text : "")).filter((t) => t !== "").join("\n");
    const shown = text.length > ERROR_TEXT_MAX ? `${text.slice(0, ERROR_TEXT_MAX)}...` : text;
    throw guestErrors.io(`tool ${fullName} failed${shown ? `: ${shown}` : ""}`);
  }
  if (isJsonObject(result.structuredContent)) return toJson(result.structuredContent);
  // A server of the 2024-10-07 protocol answers { toolResult } instead of content blocks.
  if (!Array.isArray(result.content) && "toolResult" in result) return toJson(result.toolResult);
  if (blocks.length === 0) return null;
  if (blocks.length === 1) return mapBlock(blocks[0]);
  return blocks.map(mapBlock);
}

/** One content block as plain data (see mcpResultToJson). */
export function mapBlock(block: unknown): JsonValue {
  if (!isJsonObject(block)) return toJson(block);
  switch (block.type) {
    case "text":
      return typeof block.text === "string" ? block.text : toJson(block);
    case "image":
    case "audio":
      return { type: block.type, mimeType: String(block.mimeType ?? ""), data: String(block.data ?? "") };
    case "resource": {
      const r = isJsonObject(block.resource) ? block.resource : {};
      return pick({ type: "resource" }, r, ["uri", "mimeType", "text", "blob"]);
    }
    case "resource_link":
      return pick({ type: "resource_link" }, block, ["uri", "name", "mimeType", "description"]);
    default:
      return toJson(block);
  }
}

function pick(into: Record<string, JsonValue>, from: Record<string, unknown>, keys: string[]): JsonValue {
  for (const key of keys) if (typeof from[key] === "string") into[key] = from[key] as string;
  return into;
}

function isTextBlock(block: unknown): block is { type: "text"; text: string } {
  return isJsonObject(block) && block.type === "text" && typeof block.text === "string";
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The value as JSON data: it came from JSON.parse, but a round trip makes sure of it (no
 * `undefined`, no prototype tricks) at the cost of one copy.
 */
function toJson(value: unknown): JsonValue {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as JsonValue);
}
