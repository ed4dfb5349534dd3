// Registers <stage-picture> (lib/stage-picture.js).
import { StagePicture } from './stage-picture.js';

if (!customElements.get('stage-picture')) customElements.define('stage-picture', StagePicture);
