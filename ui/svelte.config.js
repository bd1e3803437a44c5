// Runes everywhere: no component silently falls back to Svelte 4's implicit reactivity.
export default {
  compilerOptions: {
    runes: true,
  },
};
