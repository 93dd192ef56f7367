/// <reference types="vite/client" />
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

declare module 'vue' {
  interface GlobalDirectives {
    /** Element Plus's loading mask (registered by app.use(ElementPlus)). */
    vLoading: (typeof import('element-plus'))['vLoading'];
  }
}
export {};
