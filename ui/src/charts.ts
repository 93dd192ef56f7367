/** The parts of ECharts the UI draws with (tree-shaken), and the Guangzhou district map. */
import { use, registerMap } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { BarChart, LineChart, MapChart, PieChart, ScatterChart, EffectScatterChart } from 'echarts/charts';
import { GeoComponent, GridComponent, LegendComponent, TitleComponent, TooltipComponent, VisualMapComponent, AriaComponent } from 'echarts/components';
import guangzhou from './geo/guangzhou.json';

use([
  CanvasRenderer,
  BarChart,
  LineChart,
  MapChart,
  PieChart,
  ScatterChart,
  EffectScatterChart,
  GeoComponent,
  GridComponent,
  LegendComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent,
  AriaComponent,
]);

registerMap('guangzhou', guangzhou as never);
