// wt.tuning: kernel autotuning (see src/backend/tuner.ts). Modes: init({ autotune: 'persist' |
// 'memory' | 'off' }); picks: report(); settings for the rest of the process: configure().
export {
  type AutotuneMode,
  type TuningStore,
  type TuningClock,
  type Timing,
  type TimingContext,
  type TuningConfig,
  type TuningRow,
  type PickSource,
  type ParityResult,
  memoryTuningStore,
  report,
  formatReport,
  run,
  configure,
  mode,
  tuneSamples,
  checkParity,
  FAMILY_BUDGET_MS,
  TIE_MARGIN,
} from './backend/tuner.ts';
