/**
 * How to call a model from outside the page: curl, Python and Node with OpenAI's client, against
 * the tenant's base URL (the page's origin + /v1). The key is read from TOKENPOOL_API_KEY, never
 * written into the snippet.
 */
export type SnippetLang = 'curl' | 'python' | 'node';
export const SNIPPET_LANGS: readonly SnippetLang[] = ['curl', 'python', 'node'];

const q = (s: string) => JSON.stringify(s);

export function snippet(lang: SnippetLang, baseUrl: string, model: string, prompt: string): string {
  switch (lang) {
    case 'curl': {
      const body = JSON.stringify({ model, messages: [{ role: 'user', content: prompt }], stream: false });
      return [
        `curl ${baseUrl}/chat/completions \\`,
        `  -H "Authorization: Bearer $TOKENPOOL_API_KEY" \\`,
        `  -H "Content-Type: application/json" \\`,
        `  -d '${body.replace(/'/g, `'\\''`)}'`,
      ].join('\n');
    }
    case 'python':
      return [
        'import os',
        'from openai import OpenAI',
        '',
        `client = OpenAI(base_url=${q(baseUrl)}, api_key=os.environ["TOKENPOOL_API_KEY"])`,
        'answer = client.chat.completions.create(',
        `    model=${q(model)},`,
        `    messages=[{"role": "user", "content": ${q(prompt)}}],`,
        ')',
        'print(answer.choices[0].message.content)',
      ].join('\n');
    case 'node':
      return [
        "import OpenAI from 'openai';",
        '',
        `const client = new OpenAI({ baseURL: ${q(baseUrl)}, apiKey: process.env.TOKENPOOL_API_KEY });`,
        'const answer = await client.chat.completions.create({',
        `  model: ${q(model)},`,
        `  messages: [{ role: 'user', content: ${q(prompt)} }],`,
        '});',
        'console.log(answer.choices[0].message.content);',
      ].join('\n');
  }
}
