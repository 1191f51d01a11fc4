/**
 * The answer the SDK demo origin (scripts/demo-mcp.ts) gives to tools/list, captured
 * from it once, so the fixed origin answers with the same bytes without running the
 * SDK. Only its size and shape matter to the bench: the gate passes a free list on.
 */
export const TOOLS_LIST_RESULT = {
  tools: [
    {
      name: 'search',
      description: 'Search the demo corpus (returns 3 fake results).',
      inputSchema: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        properties: {
          query: {
            type: 'string',
          },
        },
        required: ['query'],
      },
      execution: {
        taskSupport: 'forbidden',
      },
    },
    {
      name: 'generate-report',
      description:
        'Write a report with the given number of sections, reporting progress per section.',
      inputSchema: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        properties: {
          topic: {
            type: 'string',
          },
          sections: {
            default: 3,
            type: 'integer',
            minimum: 1,
            maximum: 50,
          },
        },
        required: ['topic'],
      },
      execution: {
        taskSupport: 'forbidden',
      },
    },
    {
      name: 'echo',
      description: 'Return the text unchanged.',
      inputSchema: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        properties: {
          text: {
            type: 'string',
          },
        },
        required: ['text'],
      },
      execution: {
        taskSupport: 'forbidden',
      },
    },
    {
      name: 'fail',
      description: 'Always answers with a tool error (isError: true).',
      inputSchema: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        properties: {},
      },
      execution: {
        taskSupport: 'forbidden',
      },
    },
    {
      name: 'crash',
      description: 'Always throws.',
      inputSchema: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        properties: {},
      },
      execution: {
        taskSupport: 'forbidden',
      },
    },
    {
      name: 'slow',
      description: 'Wait ms milliseconds, then answer "done".',
      inputSchema: {
        $schema: 'http://json-schema.org/draft-07/schema#',
        type: 'object',
        properties: {
          ms: {
            type: 'integer',
            minimum: 0,
            maximum: 600000,
          },
        },
        required: ['ms'],
      },
      execution: {
        taskSupport: 'forbidden',
      },
    },
  ],
}
