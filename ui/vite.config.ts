// The UI's build (Vite) and component tests (Vitest, happy-dom). Built to dist/ui/, served by the
// platform at /ui/ (server/http/server.ts). Everything is bundled: the page loads only its own
// origin's scripts, with no inline script (the console's CSP).
import vue from '@vitejs/plugin-vue';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/ui/',
  plugins: [vue()],
  resolve: { alias: { '@': `${here}src` } },
  define: {
    // vue-i18n's esm-bundler build: messages are compiled by its JIT compiler (no eval, no new Function).
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __VUE_PROD_DEVTOOLS__: false,
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: false,
  },
  build: {
    outDir: `${here}../dist/ui`,
    emptyOutDir: true,
    // Element Plus and ECharts are big; one chunk each keeps the first view's script cacheable.
    chunkSizeWarningLimit: 1500,
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [
            { name: 'echarts', test: /node_modules[\\/](echarts|zrender|vue-echarts)/ },
            { name: 'element-plus', test: /node_modules[\\/](element-plus|@element-plus)/ },
          ],
        },
      },
    },
  },
  test: {
    root: here,
    environment: 'happy-dom',
    include: ['test/**/*.spec.ts'],
  },
});
