import type { ReasoningLevel } from '../api/types'
import type { ModelSelection } from '../hooks/use-model-choice'

const levels: { value: ReasoningLevel; label: string }[] = [
  { value: 'off', label: 'Off' },
  { value: 'low', label: 'Low' },
  { value: 'medium', label: 'Medium' },
  { value: 'high', label: 'High' },
]

/**
 * The model for the next turn, and how hard it reasons (only for a model that can). The
 * picker appears once there is a choice: with one model the header already names it.
 * `disabled`: there is no next turn to choose for (the conversation cannot be shown).
 */
export function ModelPicker({ selection, disabled = false }: { selection: ModelSelection; disabled?: boolean }) {
  const { models, active, canReason, reasoning, pick, setReasoning } = selection
  if (!active || (models.length < 2 && !canReason)) return null
  return (
    <div className="model-picker">
      {models.length > 1 && (
        <label>
          Model
          <select value={active.id} disabled={disabled} onChange={(e) => pick(e.target.value)}>
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {canReason && (
        <label>
          Reasoning
          <select value={reasoning} disabled={disabled} onChange={(e) => setReasoning(e.target.value as ReasoningLevel)}>
            {levels.map((l) => (
              <option key={l.value} value={l.value}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
      )}
    </div>
  )
}
