/** routes.json is checked with the same schema the gate loads it with. */
import { validateRoutesFile } from 'pay-gate'
import { describe, expect, it } from 'vitest'
import routes from '../routes.json'

describe('routes.json', () => {
  it('is a valid route table', () => {
    const result = validateRoutesFile(routes)
    expect(result.ok ? [] : result.issues).toEqual([])
  })
})
