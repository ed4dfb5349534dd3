// Registers <stage-lane> (lib/stage-lane.js).
import { StageLane } from './stage-lane.js';

if (!customElements.get('stage-lane')) customElements.define('stage-lane', StageLane);
