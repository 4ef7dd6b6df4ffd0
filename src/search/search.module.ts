import { Module } from '@nestjs/common';
import { EmbeddingsRepository } from './embeddings.repository';
import { SearchController } from './search.controller';
import { SearchService } from './search.service';

@Module({
  controllers: [SearchController],
  providers: [EmbeddingsRepository, SearchService],
})
export class SearchModule {}
