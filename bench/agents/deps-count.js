export const count = (items) => items.length;
