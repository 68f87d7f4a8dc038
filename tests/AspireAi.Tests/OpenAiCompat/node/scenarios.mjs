// One scenario per run, against the Api at AAI_BASE_URL with the API key AAI_API_KEY; prints one JSON object.
import OpenAI from 'openai';

const client = new OpenAI({ apiKey: process.env.AAI_API_KEY, baseURL: process.env.AAI_BASE_URL, maxRetries: 0, timeout: 60_000 });
const model = 'offline-chat-1';
const scenario = process.argv[2];

async function run() {
  switch (scenario) {
    case 'plain':
      return await client.chat.completions.create({
        model,
        messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello to the npm client.' }],
        max_completion_tokens: 200,
        temperature: 0.2,
        user: 'npm-end-user-42',
      });
    case 'stream': {
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Tell me how streaming works, word by word.' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let chunks = 0;
      let finish = null;
      let usage = null;
      let usageChunkChoices = null;
      for await (const chunk of stream) {
        chunks++;
        const choice = chunk.choices[0];
        if (choice?.delta?.content) text += choice.delta.content;
        if (choice?.finish_reason) finish = choice.finish_reason;
        if (chunk.usage) { usage = chunk.usage; usageChunkChoices = chunk.choices.length; }
      }
      return { text, chunks, finish, usage, usageChunkChoices };
    }
    case 'tools': {
      const tools = [{
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Gets the current weather for a city.',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      }];
      const messages = [{ role: 'user', content: 'What is the weather in Porto?' }];
      const first = await client.chat.completions.create({ model, messages, tools });
      const call = first.choices[0].message.tool_calls?.[0];
      messages.push(first.choices[0].message);
      messages.push({ role: 'tool', tool_call_id: call.id, content: 'Rainy, 15 degrees' });
      const second = await client.chat.completions.create({ model, messages, tools });
      return { first, second };
    }
    case 'json_schema': {
      const r = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Describe the city of Porto.' }],
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'city',
            strict: true,
            schema: {
              type: 'object',
              properties: { name: { type: 'string' }, population: { type: 'integer' } },
              required: ['name', 'population'],
              additionalProperties: false,
            },
          },
        },
      });
      return { content: r.choices[0].message.content, parsed: JSON.parse(r.choices[0].message.content) };
    }
    case 'embeddings': {
      // The client asks for base64 by default and decodes it to numbers.
      const r = await client.embeddings.create({ model: 'all-MiniLM-L6-v2', input: ['I live in Porto', 'My favourite food is sushi'] });
      return { count: r.data.length, dims: r.data.map(d => d.embedding.length), first: r.data[0].embedding.slice(0, 4), usage: r.usage, model: r.model };
    }
    case 'error':
      try {
        await client.chat.completions.create({ model, messages: [] });
        return { thrown: false };
      } catch (e) {
        return { thrown: true, name: e.constructor.name, status: e.status, type: e.type, code: e.code, param: e.param, message: e.message };
      }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

console.log(JSON.stringify(await run()));
