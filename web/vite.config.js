// Vite build of the sioc web client: static files in dist/, served by `sioc --web-root web/dist`.
// `npm run dev` proxies the API and the socket to a sioc on SIOC_URL (default 127.0.0.1:8080).
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

const target = process.env.SIOC_URL || 'http://127.0.0.1:8080';

export default defineConfig({
    plugins: [svelte()],
    base: '/',
    build: { outDir: 'dist', emptyOutDir: true, sourcemap: !!process.env.SOURCEMAP, chunkSizeWarningLimit: 1500 },
    server: {
        proxy: {
            '/api': target,
            '/metrics': target,
            '/ws': { target, ws: true },
        },
    },
});
