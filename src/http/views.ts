import { Eta } from 'eta';

export interface PageData {
  title: string;
  appName?: string;
  csrfToken?: string;
  error?: string;
  notice?: string;
  [key: string]: unknown;
}

export interface Views {
  render(page: string, data: PageData): string;
}

/** One renderer for every page, used by fastify routes and by oidc-provider's hooks alike. */
export function createViews(pagesDir: string, cache: boolean): Views {
  const eta = new Eta({ views: pagesDir, autoEscape: true, cache, useWith: false });
  return {
    render: (page, data) => eta.render(`./${page}`, { productName: 'Sesame', ...data }),
  };
}
